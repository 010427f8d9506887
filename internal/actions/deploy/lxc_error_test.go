package deploy

import "testing"

// TestTemplateError: the template's own ERROR line is the message (LXC's
// download template prints it when the image server has no such image),
// else lxc-create's last line.
func TestTemplateError(t *testing.T) {
	for _, tc := range []struct{ out, want string }{
		{"", ""},
		{"Downloading the image index\nERROR: Couldn't find a matching image\nlxc-create: c: lxccontainer.c: create_run_template: 1628 Failed to create container from template\nlxc-create: c: lxc_create.c: main: 317 Failed to create container c",
			": ERROR: Couldn't find a matching image"},
		{"lxc-create: c: lxc_create.c: main: 317 Failed to create container c", ": lxc-create: c: lxc_create.c: main: 317 Failed to create container c"},
		{"  ERROR: first\nERROR: Failed to download https://127.0.0.1:1//meta/1.0/index-system\nother", ": ERROR: Failed to download https://127.0.0.1:1//meta/1.0/index-system"},
	} {
		if got := templateError(tc.out); got != tc.want {
			t.Errorf("templateError(%q) = %q, want %q", tc.out, got, tc.want)
		}
	}
}
