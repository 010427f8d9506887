package dispatcher

// The action packages register their strategies, the finalize action and
// the command action with internal/pipeline in init; importing them here
// is what makes a job buildable.
import (
	_ "github.com/basalt-lava/basalt/internal/actions/boot"
	_ "github.com/basalt-lava/basalt/internal/actions/command"
	_ "github.com/basalt-lava/basalt/internal/actions/deploy"
	_ "github.com/basalt-lava/basalt/internal/actions/power"
	_ "github.com/basalt-lava/basalt/internal/actions/test"
)
