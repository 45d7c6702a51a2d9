package dataset

import (
	"fmt"
	"strings"
)

// Error is one problem found in a dataset, located by file and 1-based line (0 when the problem
// concerns the whole file, e.g. a missing file or a binary file).
type Error struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// Error returns "file:line: message" (or "file: message" for line 0).
func (e *Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Message
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
}

// Errors is what Walk and Load return when a dataset has problems: the first problems found, in
// reading order, and how many more were found but not kept.
type Errors struct {
	List    []Error
	Omitted int
}

// Error returns the first problem and how many others there are.
func (e *Errors) Error() string {
	if len(e.List) == 0 {
		return "no errors"
	}
	var b strings.Builder
	b.WriteString(e.List[0].Error())
	if more := len(e.List) - 1 + e.Omitted; more > 0 {
		fmt.Fprintf(&b, " (and %d more)", more)
	}
	return b.String()
}

// DefaultMaxErrors is how many problems Walk keeps when Options.MaxErrors is 0: enough to show a
// pattern, small enough that a wholly broken 289,222-row file does not fill memory with messages.
const DefaultMaxErrors = 1000

// collector accumulates validation errors up to a cap.
type collector struct {
	max  int
	errs Errors
}

func (c *collector) add(file string, line int, format string, args ...any) {
	if len(c.errs.List) >= c.max {
		c.errs.Omitted++
		return
	}
	c.errs.List = append(c.errs.List, Error{File: file, Line: line, Message: fmt.Sprintf(format, args...)})
}

// result returns nil when nothing was collected, so that callers can return it as an error.
func (c *collector) result() error {
	if len(c.errs.List) == 0 {
		return nil
	}
	return &c.errs
}
