package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Class says who is to blame when a job ends early. It is LAVA's
// error_type: the server marks Bug, Configuration and Infrastructure as
// infrastructure errors (the device's health suffers), the others as the
// job's or the test's own.
type Class string

// The error classes, with LAVA's names.
const (
	ClassJob              Class = "Job"
	ClassInfrastructure   Class = "Infrastructure"
	ClassTest             Class = "Test"
	ClassBug              Class = "Bug"
	ClassConfiguration    Class = "Configuration"
	ClassCanceled         Class = "Canceled"
	ClassTimeout          Class = "LAVATimeout"
	ClassMultinodeTimeout Class = "MultinodeTimeout"
)

// IsInfrastructure reports whether LAVA's server would treat the class as
// an infrastructure failure rather than the job's or the test's fault.
func (c Class) IsInfrastructure() bool {
	return c == ClassInfrastructure || c == ClassBug || c == ClassConfiguration
}

// Error is an error with a class. Actions return these so the job's end
// says which class ended it.
type Error struct {
	Class Class
	Msg   string
	Err   error // wrapped cause, may be nil
}

func (e *Error) Error() string {
	if e.Err != nil && e.Msg == "" {
		return e.Err.Error()
	}
	// The constructors format the cause into Msg already (%w): adding it
	// again would say everything twice. A bare context.Canceled adds
	// nothing to "the job was canceled (why)" either.
	if e.Err != nil && e.Err != context.Canceled && !strings.HasSuffix(e.Msg, e.Err.Error()) {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func newf(c Class, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Class: c, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// JobError reports bad job data or a job-caused failure (404, checksum).
func JobError(format string, args ...any) *Error { return newf(ClassJob, format, args...) }

// InfrastructureError reports a lab, network or hardware problem.
func InfrastructureError(format string, args ...any) *Error {
	return newf(ClassInfrastructure, format, args...)
}

// TestError reports a failure of the test shell itself.
func TestError(format string, args ...any) *Error { return newf(ClassTest, format, args...) }

// ConfigurationError reports a bad device or dispatcher configuration.
func ConfigurationError(format string, args ...any) *Error {
	return newf(ClassConfiguration, format, args...)
}

// Bug reports a fault in Basalt itself.
func Bug(format string, args ...any) *Error { return newf(ClassBug, format, args...) }

// ClassOf returns the class of err: the class of the first *Error in its
// chain, Canceled for context cancellation, and Bug for anything else,
// because an unclassified error is one Basalt did not expect.
func ClassOf(err error) Class {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ClassBug
}
