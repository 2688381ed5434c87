package main

import (
	"strings"
	"testing"

	"github.com/bli/atmgw/internal/gatewaytest"
)

func TestConsentBadInput(t *testing.T) {
	good := []string{"--pan", "4700555555555555", "--id", "A123456789", "--name", "王小明", "--birth", "1985-06-15"}
	with := func(args ...string) []string { return append(append([]string{}, good...), args...) }
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"consent"}, exitUsage, "missing the action"},
		{[]string{"consent", "--pan", "1"}, exitUsage, "missing the action"},
		{append([]string{"consent", "renew"}, good...), exitUsage, "want add, replace or revoke"},
		{[]string{"consent", "add", "--bogus"}, exitUsage, "-bogus"},
		{[]string{"consent", "add", "--id", "A123456789", "--birth", "1985-06-15"}, exitUsage, "--pan"},
		{[]string{"consent", "add", "--pan", "47005555x", "--id", "A123456789", "--birth", "1985-06-15"}, exitUsage, "--pan"},
		{append([]string{"consent", "add"}, with("--id", "A1234")...), exitUsage, "--id"},
		{[]string{"consent", "add", "--pan", "4700555555555555", "--id", "A123456789", "--birth", "1985-06-15"}, exitUsage, "--name"},
		{append([]string{"consent", "add"}, with("--birth", "15/06/1985")...), exitUsage, "--birth"},
		{append([]string{"consent", "add"}, with("--signed", "yesterday")...), exitUsage, "--signed"},
		{append([]string{"consent", "add"}, with("--services", "loans")...), exitUsage, "--services"},
		{append([]string{"consent", "add"}, with("--institution", "ABC")...), exitUsage, "--institution"},
		{append([]string{"consent", "add"}, with("--mac-key", "12")...), exitUsage, "--mac-key"},
		{append([]string{"consent", "add"}, with("--gateway", "127.0.0.1:1")...), exitUnreachable, "cannot reach"},
	} {
		code, _, stderr := runCmd(t, tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, stderr)
		}
		oneLine(t, stderr, tc.want)
	}
}

// TestConsentCommand registers, finds the duplicate-free retry answered
// 00 again, revokes, and gets 14 for a revocation of nothing, against a
// demo gateway, with and without a MAC key.
func TestConsentCommand(t *testing.T) {
	addr := gatewaytest.StartDemo(t)
	base := []string{"--gateway", addr, "--pan", "4700555555555555", "--id", "A123456789", "--birth", "1985-06-15"}
	args := func(action string, extra ...string) []string {
		return append(append([]string{"consent", action}, base...), extra...)
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{args("add", "--name", "王小明"), exitOK, "0312 DE39 00"},
		{args("add", "--name", "王小明"), exitOK, "0312 DE39 00"}, // the same form again: stored unchanged
		{args("add", "--name", "王大明", "--pan", "4700555555555556"), exitDeclined, "0312 DE39 25"},
		{args("revoke"), exitOK, "0312 DE39 00"},
		{args("replace", "--name", "王小明", "--signed", "2020-01-01"), exitDeclined, "0312 DE39 12"},
		{args("revoke", "--pan", "4700555555555557"), exitDeclined, "0312 DE39 14"},
		{args("add", "--name", "王小明", "--institution", "812", "--mac-key", "0123456789ABCDEFFEDCBA9876543210"), exitOK, "0312 DE39 00"},
		{args("add", "--name", "王小明", "--institution", "812"), exitDeclined, "0312 DE39 63"},
	} {
		code, stdout, stderr := runCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.out) {
			t.Errorf("%v: exit %d (want %d), stdout %q, stderr %q", tc.args[1:], code, tc.code, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, "4700555555555555") || strings.Contains(stdout+stderr, "A123456789") {
			t.Errorf("%v: the PAN or national ID in clear in the output", tc.args[1:])
		}
	}
}
