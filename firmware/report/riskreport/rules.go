package riskreport

import "strings"

// rule is one public rule, summarised in plain words. The wording states
// what the rule says and to whom it applies; it does not say what a reader
// must do.
type rule struct {
	Name, Text string
}

const ukName = "United Kingdom: government instruction on visual surveillance systems (24 November 2022)"

const ukText = "The UK government instructed central government departments to stop deploying visual surveillance " +
	"systems produced by companies subject to the National Intelligence Law of the People's Republic of China onto " +
	"sensitive sites, not to connect such equipment to their core networks, and to consider removing it rather than " +
	"waiting for scheduled replacement. %s is headquartered in the People's Republic of China. The instruction binds " +
	"central government departments; other organisations often use it as a benchmark for their own risk decisions."

const usName = "United States: section 889 of the National Defense Authorization Act for Fiscal Year 2019"

const usIntro = "Section 889 bars US federal executive agencies from buying \"covered telecommunications equipment or " +
	"services\" (since 13 August 2019) and from contracting with organisations that use them (since 13 August 2020). "

var usText = map[string]string{
	"huawei": usIntro + "Telecommunications equipment produced by Huawei, or by its subsidiaries or affiliates, is covered whatever it is used for.",
	"zte":    usIntro + "Telecommunications equipment produced by ZTE, or by its subsidiaries or affiliates, is covered whatever it is used for.",
	"hikvision": usIntro + "Video surveillance and telecommunications equipment produced by Hikvision, or by its subsidiaries or " +
		"affiliates, is covered when it is used for public safety, the security of government facilities, physical " +
		"security surveillance of critical infrastructure or other national security purposes.",
	"dahua": usIntro + "Video surveillance and telecommunications equipment produced by Dahua, or by its subsidiaries or " +
		"affiliates, is covered when it is used for public safety, the security of government facilities, physical " +
		"security surveillance of critical infrastructure or other national security purposes.",
	"hytera": usIntro + "Video surveillance and telecommunications equipment produced by Hytera, or by its subsidiaries or " +
		"affiliates, is covered when it is used for public safety, the security of government facilities, physical " +
		"security surveillance of critical infrastructure or other national security purposes.",
	"hisilicon": usIntro + "HiSilicon is a subsidiary of Huawei, so its parts count as Huawei equipment. The federal " +
		"acquisition clause that implements section 889 (FAR 52.204-25) also covers equipment that uses covered " +
		"equipment \"as a substantial or essential component of any system\": a device sold under another name but " +
		"built around a HiSilicon chip can therefore fall within the prohibition.",
}

const policyOnly = "The policy in force restricts this maker. Neither the UK instruction nor section 889 names it; " +
	"the restriction is your organisation's own decision."

// prcMakers are the restricted makers headquartered in the People's
// Republic of China.
var prcMakers = map[string]bool{"hikvision": true, "dahua": true, "huawei": true, "zte": true, "hytera": true, "hisilicon": true}

// rulesFor names the rules that apply to equipment of maker (an id).
func rulesFor(id string) []rule {
	id = strings.ToLower(id)
	var out []rule
	if prcMakers[id] {
		out = append(out, rule{ukName, strings.Replace(ukText, "%s", maker(id), 1)})
	}
	if t, ok := usText[id]; ok {
		out = append(out, rule{usName, t})
	}
	if len(out) == 0 {
		out = append(out, rule{"Your policy", policyOnly})
	}
	return out
}
