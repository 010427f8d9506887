package test

import (
	"fmt"
	"regexp"

	"github.com/basalt-lava/basalt/internal/actions/deploy"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

var service = &strategy{
	name: "TestService",
	accepts: func(_, params *value.Map) (bool, string) {
		svcs, ok := params.Get("services")
		if !ok {
			return false, `"services" not in parameters`
		}
		// Current LAVA declines a service without its four keys.
		list, _ := svcs.([]any)
		for _, x := range list {
			m, _ := x.(*value.Map)
			if missing := missingKeys(m, "name", "from", "repository", "path"); len(missing) > 0 {
				return false, fmt.Sprintf("missing required parameters %v", missing)
			}
		}
		return true, "accepted"
	},
	action: func(*value.Map) pipeline.Action { return NewServices() },
}

func init() { pipeline.Register(service) }

// serviceName is LAVA's DEFAULT_TEST_NAME_CLASS.
var serviceName = regexp.MustCompile(`^[-_a-zA-Z0-9]+$`)

// Services is LAVA's TestServices (lava-test-services): docker compose
// services started on the worker, one retrying action per service.
type Services struct{ pipeline.Base }

var _ pipeline.Action = (*Services)(nil)

// NewServices returns lava-test-services.
func NewServices() *Services {
	return &Services{pipeline.NewBase("TestServices", "lava-test-services",
		"Executing lava-test-services", "Lava Test Services")}
}

// Populate adds one lava-test-service-retry per service, whose parameters
// are the service's keys with the block's on top, as LAVA merges them.
func (a *Services) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	for _, s := range params.List("services") {
		svc, _ := s.(*value.Map)
		merged := svc.Copy()
		params.Range(func(k string, v any) bool {
			if k != "services" {
				merged.Set(k, v)
			}
			return true
		})
		retry := &ServiceRetry{pipeline.NewBase("TestServiceRetry", "lava-test-service-retry",
			"Retry wrapper for lava-test-service", "Retry support for Lava Test Service")}
		retry.Retry = true
		p.Add(retry, merged)
	}
}

// Validate needs the device to allow services on the worker and unique,
// well-formed names.
func (a *Services) Validate() {
	a.Base.Validate()
	if v, _ := a.Device().Lookup("parameters", "allow_test_services"); v != true {
		a.Errorf("device 'allow_test_services' must be set to 'true' for running test services on LAVA worker")
		return
	}
	seen := map[string]bool{}
	for _, s := range a.Params.List("services") {
		svc, _ := s.(*value.Map)
		name := svc.String("name")
		if seen[name] {
			a.Errorf("test service names need to be unique")
		}
		seen[name] = true
		if !serviceName.MatchString(name) {
			a.Errorf("invalid characters found in test service name %q: allowed are letters, digits, underscore and hyphen", name)
		}
	}
}

// ServiceRetry is LAVA's TestServiceRetry (lava-test-service-retry).
type ServiceRetry struct{ pipeline.Base }

// Populate adds lava-test-service, with its download for url services.
func (a *ServiceRetry) Populate(params *value.Map) {
	svc := &Service{leaf{pipeline.NewBase("TestServiceAction", "lava-test-service",
		"Executing lava-test-service", "Lava Test Service")}}
	a.NewPipeline(params).Add(svc, nil)
}

// Service is LAVA's TestServiceAction (lava-test-service).
type Service struct{ leaf }

// Populate downloads the service's repository when it comes from a URL.
func (a *Service) Populate(params *value.Map) {
	if params.String("from") != "url" {
		return
	}
	img := params.Copy()
	img.Set("url", params.Value("repository"))
	a.NewPipeline(params).Add(deploy.NewDownloader(params.String("name"), img), nil)
}

// Validate needs git or url, a path to the compose file, and docker.
func (a *Service) Validate() {
	a.leaf.Validate()
	if f := a.Params.String("from"); f != "git" && f != "url" {
		a.Errorf("repository from %q is not supported, allowed are 'git' and 'url'", f)
	}
	if a.Params.String("path") == "" {
		a.Errorf("missing 'path' to the compose file")
	}
	if _, ok := a.Params.Value("repository").(string); !ok {
		a.Errorf("missing 'repository'")
	}
	warnMissingTool(&a.Base, "docker")
}
