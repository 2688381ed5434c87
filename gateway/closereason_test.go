package gateway

import "testing"

// TestCloseReasonLabels: the close reasons' texts, which are the label
// values of atmgw_connections_closed_total that dashboards, alert rules and
// docs/operations.md name, and the text of the "connection closed" log
// line, are exactly these, one per reason.
func TestCloseReasonLabels(t *testing.T) {
	want := map[closeReason]string{
		closedShutdown:                 "shutdown",
		closedServer:                   "server closed",
		closedTooLarge:                 "frame over 4096",
		closedIdle:                     "idle timeout",
		closedFrameTimeout:             "frame timeout",
		closedPeer:                     "peer closed",
		closedPeerMidFrame:             "peer closed inside a frame",
		closedBadFrames:                "unparseable frames",
		closedReadError:                "read error",
		closedWriteError:               "write error",
		closedHandshake:                "tls handshake failed",
		closedSignOnDeadline:           "no sign-on within the deadline",
		closedSignOnRefused:            "sign-on refused",
		closedPanic:                    "panic",
		closedReloadUnknownInstitution: "reload: unknown institution",
		closedReloadAddress:            "reload: source address not allowed",
		closedReloadCertificate:        "reload: no client certificate of this partner",
		closedReloadCertElsewhere:      "reload: client certificate bound to another partner",
		closedReloadStranger:           "reload: source outside every partner's networks",
	}
	seen := map[string]closeReason{}
	for r := closedUnknown + 1; int(r) < len(closeReasonText); r++ {
		got := r.String()
		if got != want[r] {
			t.Errorf("close reason %d = %q, want %q", int(r), got, want[r])
		}
		if o, dup := seen[got]; dup {
			t.Errorf("close reasons %d and %d are both %q", int(o), int(r), got)
		}
		seen[got] = r
	}
	if len(seen) != len(want) {
		t.Errorf("%d close reasons, want %d", len(seen), len(want))
	}
	if closedUnknown.String() != "" || closeReason(99).String() != "close reason 99" {
		t.Errorf("unknown: %q, out of range: %q", closedUnknown.String(), closeReason(99).String())
	}
	for r, want := range map[refusal]closeReason{
		admitted: closedUnknown, refusedUnknownInstitution: closedReloadUnknownInstitution, refusedAddress: closedReloadAddress,
		refusedCertificate: closedReloadCertificate, refusedCertElsewhere: closedReloadCertElsewhere,
	} {
		if got := r.reloadReason(); got != want {
			t.Errorf("refusal %q: reload reason %q, want %q", r, got, want)
		}
	}
}
