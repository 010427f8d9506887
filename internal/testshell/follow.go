package testshell

import (
	"context"
	"errors"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/pipeline"
)

// Follow reads the console until the runner prints its EXIT line, feeding
// every signal and parse-pattern match to p, and returns:
//
//   - nil at EXIT;
//   - the error Handle returned (TESTRAISE, an unusable signal);
//   - an InfrastructureError wrapping connection.ErrClosed when the
//     console ended first (the device's process died);
//   - ctx's error, wrapped, when ctx ended first: the caller knows
//     whether that is its timeout or a cancellation.
//
// Each console line costs the connection's own work and one substring
// search for "<LAVA_" (plus the parse pattern while a run has one): no
// allocation here unless something matched.
func (p *Parser) Follow(ctx context.Context, s *connection.Session) error {
	for {
		m, err := s.Expect(ctx, p.Patterns()...)
		if err != nil {
			if errors.Is(err, connection.ErrClosed) {
				return &pipeline.Error{Class: pipeline.ClassInfrastructure,
					Msg: "the device's console closed while the test shell was running", Err: err}
			}
			return err
		}
		if m.Index == 2 {
			if err := p.followMultiNode(ctx, m); err != nil {
				return err
			}
			continue
		}
		done, err := p.Handle(m.Index, m.Groups)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}
