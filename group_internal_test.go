package storage

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGroup(t *testing.T) {
	t.Run("runs at most limit at a time", func(t *testing.T) {
		g, _ := newGroup(context.Background(), 3)
		var (
			mu                 sync.Mutex
			running, most, ran int
		)
		for range 20 {
			g.Go(func() error {
				mu.Lock()
				running++
				most = max(most, running)
				mu.Unlock()
				time.Sleep(time.Millisecond)
				mu.Lock()
				running--
				ran++
				mu.Unlock()
				return nil
			})
		}
		require.NoError(t, g.Wait())
		assert.Equal(t, 20, ran)
		assert.LessOrEqual(t, most, 3)
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
