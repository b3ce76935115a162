package storage

import (
	"context"
	"sync"
)

// group runs functions on goroutines of their own, at most a set number at
// a time, as errgroup.Group with SetLimit does (x/sync needs a newer Go than
// this module): the first error cancels the context the functions share,
// and Wait returns it.
type group struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	slots  chan struct{}
	wg     sync.WaitGroup
}

// newGroup returns a group that runs at most limit functions at a time, and
// the context they share: done at the group's first error, or with ctx.
func newGroup(ctx context.Context, limit int) (*group, context.Context) {
	ctx, cancel := context.WithCancelCause(ctx)
	return &group{ctx: ctx, cancel: cancel, slots: make(chan struct{}, limit)}, ctx
}

// Go waits until fewer than limit functions run, then runs f.
func (g *group) Go(f func() error) {
	g.slots <- struct{}{}
	g.wg.Go(func() {
		defer func() { <-g.slots }()
		if err := f(); err != nil {
			g.cancel(err)
		}
	})
}

// Fail stops the group with err, as a function returning it would.
func (g *group) Fail(err error) { g.cancel(err) }

// Wait waits for the functions started and returns the first error, or the
// error that ended the context the group was made from.
func (g *group) Wait() error {
	g.wg.Wait()
	err := context.Cause(g.ctx)
	g.cancel(nil)
	return err
}
