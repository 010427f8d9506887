package pipeline

import "testing"

// The keys are LAVA's (action, label, key) triples written as paths;
// a constructor that drifted would still build, so pin what they give.
func TestDataKeys(t *testing.T) {
	tests := []struct {
		got  DataKey
		want string
	}{
		{DataDownload("kernel", DownloadFile), "download-action/kernel/file"},
		{DataDownload("rootfs", DownloadImageArg), "download-action/rootfs/image_arg"},
		{DataDownload("rootfs", DownloadSHA256), "download-action/rootfs/sha256sum"},
		{DataDownloadFileOf("dtb"), "download-action/file/dtb"},
		{DataTestDefinition("0_smoke"), "test-definition/0_smoke"},
		{DataMultinode("ipv4"), "lava-multinode/ipv4"},
		{DataKernelType, "download-action/type/kernel"},
		{DataEnvDict, "deploy-device-env/environment/env_dict"},
		{DataPreCommands, "execute-qemu/pre-commands"},
	}
	for _, tc := range tests {
		if string(tc.got) != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// Namespaces keep the same key apart.
func TestDataPerNamespace(t *testing.T) {
	var r Runtime
	r.SetData("host", DataResultsDir, "/lava-1")
	r.SetData("target", DataResultsDir, "/lava-2")
	if a, b := r.DataString("host", DataResultsDir), r.DataString("target", DataResultsDir); a != "/lava-1" || b != "/lava-2" {
		t.Errorf("host %q, target %q; want /lava-1, /lava-2", a, b)
	}
	if v := r.Data("other", DataResultsDir); v != nil {
		t.Errorf("a namespace that recorded nothing has %v", v)
	}
}
