package onvif

import "context"

// NSMedia is the ONVIF media service (ver10) namespace.
const NSMedia = "http://www.onvif.org/ver10/media/wsdl"

// MaxVideoSources caps what VideoSources returns: no recorder has more
// inputs than this, so a longer list is a hostile or broken answer.
const MaxVideoSources = 256

// VideoSources calls the media service's GetVideoSources and returns how
// many sources it lists (at most MaxVideoSources). On an NVR each source is one channel, so the count says how
// many cameras it records even when nothing else about them can be read.
// c.XAddr must be the media service's address (GetServices names it; many
// devices also answer on the device service URL). The SOAPAction names the
// device namespace, which devices ignore: they dispatch on the body element.
func (c *Client) VideoSources(ctx context.Context) (int, error) {
	el, err := c.call(ctx, "GetVideoSources", `<trt:GetVideoSources xmlns:trt="`+NSMedia+`"/>`, false)
	if err != nil {
		return 0, err
	}
	return min(len(el.Children("VideoSources")), MaxVideoSources), nil
}
