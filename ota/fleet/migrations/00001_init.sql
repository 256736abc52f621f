-- The fleet store: what every appliance last said, and what happened.
-- Every table that holds a message is keyed on (appliance, seq): seq is
-- strictly increasing over an appliance's life (across restarts), so a
-- re-delivered message lands on its own key and ON CONFLICT DO NOTHING
-- turns at-least-once delivery into exactly one row.

-- +goose Up
CREATE TABLE appliances (
    id             text PRIMARY KEY,
    site           text NOT NULL,
    first_stored   timestamptz NOT NULL DEFAULT now(),
    -- newest ts of a live (non-historical) message
    last_seen      timestamptz,
    -- status: compared by (session, online, seq), see fleet_status
    session        bigint,
    status_seq     bigint,
    online         boolean,
    uplink_cut     boolean,
    status_ts      timestamptz,
    status         jsonb,
    -- firmware and policy version: from the newest status or info
    fw_seq         bigint,
    firmware       text,
    policy_version bigint,
    info           jsonb
);
CREATE INDEX appliances_site ON appliances (site);

-- The current verdict of every device, one row per (appliance, mac).
CREATE TABLE devices (
    appliance    text NOT NULL,
    mac          text NOT NULL,
    seq          bigint NOT NULL,
    reported_at  timestamptz NOT NULL,
    status       text NOT NULL,
    maker        text NOT NULL,
    brand        text NOT NULL,
    model        text NOT NULL,
    flagged      boolean NOT NULL,
    action       text NOT NULL,
    -- the device's own first_seen, else the first report's ts
    first_seen   timestamptz NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now(),
    -- set when the appliance cleared the retained message (forgot it)
    forgotten_at timestamptz,
    payload      jsonb NOT NULL,
    PRIMARY KEY (appliance, mac)
);
CREATE INDEX devices_status ON devices (status);
CREATE INDEX devices_maker ON devices (maker);
CREATE INDEX devices_first_seen ON devices (first_seen);

-- One row per change of verdict, in seq order.
CREATE TABLE device_history (
    appliance  text NOT NULL,
    mac        text NOT NULL,
    seq        bigint NOT NULL,
    ts         timestamptz NOT NULL,
    status     text NOT NULL,
    maker      text NOT NULL,
    flagged    boolean NOT NULL,
    action     text NOT NULL,
    confidence text NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (appliance, mac, seq)
);

-- Events: exactly once. The event payload carries appliance, seq and
-- msg_id (no session: seq already spans sessions), so both are keys.
CREATE TABLE events (
    appliance  text NOT NULL,
    seq        bigint NOT NULL,
    msg_id     text NOT NULL,
    type       text NOT NULL,
    ts         timestamptz NOT NULL,
    mac        text NOT NULL DEFAULT '',
    historical boolean NOT NULL DEFAULT false,
    data       jsonb,
    -- clock_timestamp, not now(): the latency figure measures to here
    stored_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (appliance, seq),
    UNIQUE (appliance, msg_id)
);
CREATE INDEX events_type_ts ON events (type, ts);

-- Who acknowledged an uplink cut, and when (from evt/acknowledged).
CREATE TABLE acknowledgements (
    appliance text NOT NULL,
    seq       bigint NOT NULL,
    ts        timestamptz NOT NULL,
    source    text NOT NULL,
    cut_since timestamptz,
    PRIMARY KEY (appliance, seq)
);

-- policy/reported and ota/status, every distinct report kept.
CREATE TABLE policy_reports (
    appliance       text NOT NULL,
    seq             bigint NOT NULL,
    ts              timestamptz NOT NULL,
    status          text NOT NULL,
    applied_version bigint NOT NULL,
    reason          text NOT NULL,
    payload         jsonb NOT NULL,
    PRIMARY KEY (appliance, seq)
);

CREATE TABLE ota_reports (
    appliance text NOT NULL,
    seq       bigint NOT NULL,
    ts        timestamptz NOT NULL,
    state     text NOT NULL,
    version   text NOT NULL,
    running   text NOT NULL,
    payload   jsonb NOT NULL,
    PRIMARY KEY (appliance, seq)
);

-- Messages the database refused (bad data, not a lost connection): kept
-- for a person, and acknowledged so they cannot block the stream.
CREATE TABLE rejected (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    payload     bytea NOT NULL,
    error       text NOT NULL
);

-- +goose StatementBegin
-- fleet_device stores one devices/{mac} report: the current row only if
-- its seq is newer (shared subscriptions deliver a device's reports to
-- different processes, in any order), and a history row only where the
-- verdict changes in seq order, whatever order the reports arrive in.
CREATE FUNCTION fleet_device(p_app text, p_mac text, p_seq bigint, p_ts timestamptz, p_status text,
                             p_maker text, p_brand text, p_model text, p_flagged boolean, p_action text,
                             p_confidence text, p_first timestamptz, p_payload jsonb) RETURNS void AS $$
DECLARE
    prev record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_app || '/' || p_mac, 0));
    SELECT status, maker, flagged, action INTO prev FROM device_history
     WHERE appliance = p_app AND mac = p_mac AND seq < p_seq ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND OR (prev.status, prev.maker, prev.flagged, prev.action)
                    IS DISTINCT FROM (p_status, p_maker, p_flagged, p_action) THEN
        INSERT INTO device_history (appliance, mac, seq, ts, status, maker, flagged, action, confidence)
        VALUES (p_app, p_mac, p_seq, p_ts, p_status, p_maker, p_flagged, p_action, p_confidence)
        ON CONFLICT DO NOTHING;
        -- A later report with this same verdict arrived first: the change
        -- happened here, not there.
        DELETE FROM device_history h
         WHERE h.appliance = p_app AND h.mac = p_mac
           AND h.seq = (SELECT min(seq) FROM device_history
                         WHERE appliance = p_app AND mac = p_mac AND seq > p_seq)
           AND (h.status, h.maker, h.flagged, h.action) = (p_status, p_maker, p_flagged, p_action);
    END IF;
    INSERT INTO devices AS d (appliance, mac, seq, reported_at, status, maker, brand, model, flagged, action,
                              first_seen, payload)
    VALUES (p_app, p_mac, p_seq, p_ts, p_status, p_maker, p_brand, p_model, p_flagged, p_action,
            p_first, p_payload)
    ON CONFLICT (appliance, mac) DO UPDATE
       SET seq = EXCLUDED.seq, reported_at = EXCLUDED.reported_at, status = EXCLUDED.status,
           maker = EXCLUDED.maker, brand = EXCLUDED.brand, model = EXCLUDED.model,
           flagged = EXCLUDED.flagged, action = EXCLUDED.action,
           first_seen = LEAST(d.first_seen, EXCLUDED.first_seen), stored_at = now(),
           forgotten_at = NULL, payload = EXCLUDED.payload
     WHERE d.seq < EXCLUDED.seq;
END
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION fleet_device;
DROP TABLE rejected, ota_reports, policy_reports, acknowledgements, events, device_history, devices, appliances;
