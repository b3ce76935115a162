package storage

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGroup(t *testing.T) {
	t.Run("runs at most limit at a time", func(t *testing.T) {
		g, _ := newGroup(context.Background(), 3)
		var running, most, ran atomic.Int32
		for range 20 {
			g.Go(func() error {
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(time.Millisecond)
				running.Add(-1)
				ran.Add(1)
				return nil
			})
		}
		require.NoError(t, g.Wait())
		assert.Equal(t, int32(20), ran.Load())
		assert.LessOrEqual(t, most.Load(), int32(3))
	})

	t.Run("the first error cancels the rest and is returned", func(t *testing.T) {
		errFirst := errors.New("first")
		g, ctx := newGroup(context.Background(), 4)
		for range 3 {
			g.Go(func() error {
				<-ctx.Done()
				return ctx.Err()
			})
		}
		g.Go(func() error { return errFirst })
		assert.Equal(t, errFirst, g.Wait())
	})

	t.Run("Fail stops it as an error would", func(t *testing.T) {
		errList := errors.New("listing failed")
		g, ctx := newGroup(context.Background(), 2)
		g.Go(func() error {
			<-ctx.Done()
			return nil
		})
		g.Fail(errList)
		assert.Equal(t, errList, g.Wait())
	})

	t.Run("the parent's cancellation", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		g, ctx := newGroup(parent, 2)
		g.Go(func() error {
			<-ctx.Done()
			return ctx.Err()
		})
		cancel()
		assert.ErrorIs(t, g.Wait(), context.Canceled)
	})
}
