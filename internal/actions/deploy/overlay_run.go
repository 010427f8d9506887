package deploy

import (
	"context"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/basalt-lava/basalt/internal/overlay"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// Namespace data written by the overlay actions (pipeline/datakeys.go).
const (
	dataOverlayLocation = pipeline.DataOverlayLocation
	dataResultsDir      = pipeline.DataResultsDir
	dataCompressedFile  = pipeline.DataCompressedOverlay
	dataGuestFile       = pipeline.DataGuestFile
	dataGuestFormat     = pipeline.DataGuestFormat
	dataGuestUUID       = pipeline.DataGuestUUID
	dataEnvDict         = pipeline.DataEnvDict
	dataEnvShellFile    = pipeline.DataEnvShellFile
	dataEnvLineSep      = pipeline.DataEnvLineSep
)

// scratchDir makes a new folder for an action in the job's scratch folder,
// which the job removes when it ends.
func scratchDir(b *pipeline.Base) (string, error) {
	if b.Job == nil || b.Job.Runtime.TmpDir == "" {
		return "", pipeline.Bug("%s: the job has no scratch folder", b.Name)
	}
	d, err := os.MkdirTemp(b.Job.Runtime.TmpDir, b.Name+"-")
	if err != nil {
		return "", pipeline.InfrastructureError("creating a folder for %s: %w", b.Name, err)
	}
	return d, nil
}

// resultsDir is lava_test_results_dir with the job id: where the overlay
// sits on the device (/lava-<jobid> unless the OS or device says else).
func resultsDir(b *pipeline.Base) (string, error) {
	pattern := "/lava-%s"
	if v, ok := b.Constant("lava_test_results_dir", "posix"); ok {
		s, isStr := v.(string)
		if !isStr {
			return "", pipeline.ConfigurationError("invalid lava_test_results_dir %s", value.GoString(v))
		}
		pattern = s
	}
	if !strings.Contains(pattern, "%s") {
		return "", pipeline.ConfigurationError("invalid lava_test_results_dir %q, should include '%%s'", pattern)
	}
	dir := strings.ReplaceAll(strings.Replace(pattern, "%s", b.Job.ID, 1), "%%", "%")
	clean := path.Clean(dir)
	if !strings.HasPrefix(dir, "/") || clean != dir || clean == "/" || strings.ContainsAny(dir, "\n\r") {
		return "", pipeline.ConfigurationError("invalid lava_test_results_dir %q (job %q): an absolute folder is needed", pattern, b.Job.ID)
	}
	return dir, nil
}

// overlayTree returns where lava-overlay put the tree on the dispatcher
// and the folder it stands for on the device.
func overlayTree(b *pipeline.Base) (tree, results string, err error) {
	location, results := b.DataString(dataOverlayLocation), b.DataString(dataResultsDir)
	if location == "" || results == "" {
		return "", "", pipeline.Bug("%s: missing lava overlay location: lava-overlay has not run in namespace %s", b.Name, b.Namespace())
	}
	tree = filepath.Join(location, path.Base(results))
	if _, err := os.Stat(tree); err != nil {
		return "", "", pipeline.Bug("%s: unable to find the overlay: %v", b.Name, err)
	}
	return tree, results, nil
}

// shellCmd is the device's shell for the helpers (lava_test_sh_cmd).
func shellCmd(b *pipeline.Base) string {
	if v, ok := b.Constant("lava_test_sh_cmd", "posix"); ok {
		if s, isStr := v.(string); isStr && s != "" {
			return s
		}
	}
	return "/bin/sh"
}

// distro is the deployment's distribution (deployment data "distro").
func distro(b *pipeline.Base) string {
	return b.Params.Map("deployment_data").String("distro")
}

// str is a configuration value as text; absent is empty.
func str(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	}
	return fmt.Sprint(v)
}

// Run creates the overlay tree, as LAVA's CreateOverlay does: a folder
// named like the results folder on the device, with bin/ (the helpers),
// tests/, results/, the environment file and the secrets; then the
// children add the test definitions and compress it.
func (a *Overlay) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	if !a.wanted(a.Params) {
		a.Log().Infof("[%s] skipped %s - no test action.", a.Namespace(), a.Name)
		return conn, nil
	}
	results, err := resultsDir(&a.Base)
	if err != nil {
		return conn, err
	}
	location, err := scratchDir(&a.Base)
	if err != nil {
		return conn, err
	}
	tree := filepath.Join(location, path.Base(results))
	a.Log().Debugf("[%s] Preparing overlay tarball in %s", a.Namespace(), location)
	for _, d := range []string{"bin", "tests", "results"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			return conn, pipeline.InfrastructureError("creating the overlay: %w", err)
		}
	}
	a.SetData(dataOverlayLocation, location)
	a.SetData(dataResultsDir, results)

	names, err := overlay.WriteScripts(filepath.Join(tree, "bin"), a.scriptConfig())
	if err != nil {
		return conn, err
	}
	a.Log().Debugf("Creating %s/bin: %s", tree, strings.Join(names, " "))

	a.Log().Debugf("Creating %s/environment", tree)
	if err := overlay.WriteEnvironment(filepath.Join(tree, "environment"), a.envSources()); err != nil {
		return conn, err
	}
	secrets, err := a.secrets()
	if err != nil {
		return conn, err
	}
	if len(secrets) > 0 {
		a.Log().Debugf("Creating %s/secrets", tree)
	}
	if err := overlay.WriteSecrets(filepath.Join(tree, "secrets"), secrets); err != nil {
		return conn, err
	}
	return a.Base.Run(ctx, conn)
}

// scriptConfig gathers what the helpers are told about the device.
func (a *Overlay) scriptConfig() overlay.ScriptConfig {
	dev := a.Device()
	target := dev.Map("parameters").Map("interfaces").Map("target")
	cfg := overlay.ScriptConfig{
		Shell:     shellCmd(&a.Base),
		Distro:    distro(&a.Base),
		TargetIP:  str(target.Value("ip")),
		TargetMAC: str(target.Value("mac")),
	}
	for _, s := range dev.List("static_info") {
		m, _ := s.(*value.Map)
		if m.Has("probe_channel") && m.Has("probe_ip") {
			cfg.ProbeChannel, cfg.ProbeIP = str(m.Value("probe_channel")), str(m.Value("probe_ip"))
			break
		}
	}
	for _, s := range dev.List("storage_info") {
		m, _ := s.(*value.Map)
		m.Range(func(k string, v any) bool {
			cfg.Storage = append(cfg.Storage, overlay.Storage{Method: k, ID: str(v)})
			return true
		})
	}
	return cfg
}

// envSources lists the environment file's blocks in LAVA's order.
func (a *Overlay) envSources() []overlay.EnvSource {
	dev := a.Device()
	var src []overlay.EnvSource
	for _, s := range []struct{ key, prefix string }{
		{"environment", ""},
		{"device_info", "LAVA_DEVICE_INFO"},
		{"static_info", "LAVA_STATIC_INFO"},
		{"storage_info", "LAVA_STORAGE_INFO"},
	} {
		if v := dev.Value(s.key); pipeline.Truthy(v) {
			src = append(src, overlay.EnvSource{What: "device " + s.key, Data: v, Prefix: s.prefix})
		}
	}
	jobEnv := a.Job.Params.Value("environment")
	what := "job environment"
	if mn := a.Job.Params.Map("protocols").Map("lava-multinode"); mn.Has("environment") {
		jobEnv, what = mn.Value("environment"), "lava-multinode environment"
	}
	if pipeline.Truthy(jobEnv) {
		src = append(src, overlay.EnvSource{What: what, Data: jobEnv, FromJob: true})
	}
	src = append(src,
		overlay.EnvSource{What: "job id", Data: a.Job.ID, Prefix: "LAVA_JOB_ID", FromJob: true},
		overlay.EnvSource{What: "dispatcher ip", Data: dispatcherIP(a.Job), Prefix: "LAVA_DISPATCHER_IP"},
	)
	return src
}

// secrets are the job's secrets, then the env_dut variables, as LAVA
// writes them to the secrets file.
func (a *Overlay) secrets() ([]overlay.Secret, error) {
	var out []overlay.Secret
	if v, ok := a.Job.Params.Get("secrets"); ok && v != nil {
		m, isMap := v.(*value.Map)
		if !isMap {
			return nil, pipeline.JobError("secrets must be a map of names to values")
		}
		m.Range(func(k string, v any) bool {
			out = append(out, overlay.Secret{Name: k, Value: str(v)})
			return true
		})
	}
	env, err := hostEnvironment(&a.Base)
	if err != nil {
		return nil, err
	}
	env.Range(func(k string, v any) bool {
		if !overlay.ValidName(k) {
			// The dispatcher's own environment may hold names no shell
			// takes (exported bash functions): they cannot be wanted.
			a.Log().Debugf("env_dut: leaving out %q, not a shell variable name", k)
			return true
		}
		out = append(out, overlay.Secret{Name: k, Value: str(v)})
		return true
	})
	return out, nil
}

// hostEnvironment is deviceEnvironment for an action of a job, refused
// under a host-access policy (a worker's): LAVA takes env_dut from the
// dispatcher's configuration, never from the job, and copying this host's
// environment (its tokens and passwords) into the device is not a job's
// to ask for.
func hostEnvironment(b *pipeline.Base) (*value.Map, error) {
	if p := b.LocalFiles(); p != nil && pipeline.Truthy(b.Job.Params.Value("env_dut")) {
		return nil, pipeline.JobError("env_dut: copies this %s's environment into the device: not a job key under a host-access policy", p.Host())
	}
	return deviceEnvironment(b.Job.Params)
}

// deviceEnvironment is LAVA's env_dut: the dispatcher's environment
// (unless purge), less "removes", plus "overrides". It is empty when the
// job has no env_dut.
func deviceEnvironment(params *value.Map) (*value.Map, error) {
	env := value.NewMap()
	raw, ok := params.Get("env_dut")
	if !ok || raw == nil || raw == "" {
		return env, nil
	}
	conf, isMap := raw.(*value.Map)
	if s, isStr := raw.(string); isStr {
		v, err := value.DecodeYAML([]byte(s))
		if err != nil {
			return nil, pipeline.JobError("env_dut: invalid YAML: %v", err)
		}
		conf, isMap = v.(*value.Map)
	}
	if !isMap {
		return nil, pipeline.JobError("env_dut: a map (purge, removes, overrides) is needed")
	}
	if !pipeline.Truthy(conf.Value("purge")) {
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env.Set(k, v)
		}
	}
	switch r := conf.Value("removes").(type) {
	case []any:
		for _, k := range r {
			env.Delete(str(k))
		}
	case *value.Map:
		for _, k := range r.Keys() {
			env.Delete(k)
		}
	}
	conf.Map("overrides").Range(func(k string, v any) bool {
		env.Set(k, str(v))
		return true
	})
	return env, nil
}

// dispatcherIP is the address the device reaches the dispatcher at: the
// dispatcher configuration's dispatcher_ip, else the address of the
// interface that routes outwards (a UDP "connection" sends nothing).
func dispatcherIP(j *pipeline.Job) string {
	if ip := j.Params.Map("dispatcher").String("dispatcher_ip"); ip != "" {
		return ip
	}
	c, err := net.Dial("udp4", "192.0.2.1:9")
	if err == nil {
		defer c.Close()
		if a, ok := c.LocalAddr().(*net.UDPAddr); ok {
			return a.IP.String()
		}
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return "127.0.0.1"
}

// CannotRun is empty: MultinodeOverlay runs (below), although it embeds leaf.
func (*MultinodeOverlay) CannotRun() string { return "" }

// Run writes the MultiNode helpers (lava-send, lava-wait, lava-group, …)
// into the overlay's bin/ for a job with a role in a MultiNode group, as
// LAVA's MultinodeOverlayAction does; a job outside MultiNode is left
// alone. The roles of the whole group are known only once the server has
// scheduled it: a job without them cannot run its MultiNode tests.
func (a *MultinodeOverlay) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	mn := a.Job.Params.Map("protocols").Map("lava-multinode")
	if mn == nil || !mn.Has("target_group") {
		a.Log().Debugf("skipped %s", a.Name)
		return conn, nil
	}
	role, isStr := mn.Value("role").(string)
	if !isStr || role == "" {
		return conn, pipeline.JobError("multinode job without a specified role")
	}
	group, err := groupMembers(mn)
	if err != nil {
		return conn, err
	}
	tree, results, err := overlayTree(&a.Base)
	if err != nil {
		return conn, err
	}
	self := a.Job.ID
	inGroup := false
	for _, m := range group {
		a.Log().Debugf("group roles:\t%s\t%s", m.Client, m.Role)
		inGroup = inGroup || m.Client == self
	}
	if !inGroup {
		a.Log().Warnf("job %s is not in the roles of its MultiNode group", self)
	}
	bin := filepath.Join(tree, "bin")
	names, err := overlay.WriteMultinodeScripts(bin, overlay.MultinodeConfig{
		Shell:   shellCmd(&a.Base),
		Group:   group,
		Role:    role,
		Self:    self,
		TestBin: path.Join(results, "bin"),
		Debug:   true,
	})
	if err != nil {
		return conn, err
	}
	a.Log().Debugf("Creating %s: %s", bin, strings.Join(names, " "))
	return conn, nil
}

// groupMembers reads protocols.lava-multinode.roles, {job id: role} as
// the server writes it when it schedules the group, in the job's order.
func groupMembers(mn *value.Map) ([]overlay.GroupMember, error) {
	const incomplete = "multinode definition without complete list of roles after assignment"
	roles, isMap := mn.Value("roles").(*value.Map)
	if !isMap || roles.Len() == 0 {
		return nil, pipeline.JobError("%s", incomplete)
	}
	var group []overlay.GroupMember
	var err error
	roles.Range(func(client string, v any) bool {
		r, isStr := v.(string)
		if !isStr {
			// A submission's roles ({role: {device_type, count}}) before
			// the server split it.
			err = pipeline.JobError("%s: the role of %q is %s, not a role name", incomplete, client, value.GoString(v))
			return false
		}
		group = append(group, overlay.GroupMember{Client: client, Role: r})
		return true
	})
	return group, err
}

// CannotRun is empty: CompressOverlay runs (below), although it embeds leaf.
func (*CompressOverlay) CannotRun() string { return "" }

// Run packs the overlay as overlay-<level>.tar.gz, its contents under
// the results folder's name, plus ./root when ssh-authorize made one.
func (a *CompressOverlay) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	tree, results, err := overlayTree(&a.Base)
	if err != nil {
		return conn, err
	}
	dir, err := scratchDir(&a.Base)
	if err != nil {
		return conn, err
	}
	output := filepath.Join(dir, "overlay-"+a.Level+".tar.gz")
	root := filepath.Join(filepath.Dir(tree), "root")
	if err := overlay.Compress(output, tree, path.Base(results), root); err != nil {
		return conn, err
	}
	a.SetData(dataCompressedFile, output)
	a.Log().Debugf("Overlay tarball: %s", output)
	return conn, nil
}

// CannotRun is empty: DeployDeviceEnv runs (below), although it embeds leaf.
func (*DeployDeviceEnv) CannotRun() string { return "" }

// Run works out the env_dut variables and the shell file for
// export-device-env, as LAVA's DeployDeviceEnvironment does.
func (a *DeployDeviceEnv) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	if v, ok := a.Job.Params.Get("env_dut"); ok && pipeline.Truthy(v) {
		env, err := hostEnvironment(&a.Base)
		if err != nil {
			return conn, err
		}
		shellFile, _ := a.Constant("lava_test_shell_file", "posix")
		a.SetData(dataEnvShellFile, str(shellFile))
		a.SetData(dataEnvDict, env)
	}
	sep := "\n"
	if s, ok := a.Params.Map("deployment_data").Value("line_separator").(string); ok {
		sep = s
	}
	a.SetData(dataEnvLineSep, sep)
	return conn, nil
}
