package main

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"reflect"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// killTrees returns n objects of up to maxSize bytes under events/, and
// old versions of the same keys, which differ in content and in
// attributes, so that a mix of one's content and the other's attributes
// shows.
func killTrees(n, maxSize int) (tree, old []treeObject) {
	for i := range n {
		o := treeObject{
			key:  fmt.Sprintf("events/%d/file %d.bin", i%7, i),
			size: rand.IntN(maxSize),
			opts: storage.PutOptions{ContentType: "application/octet-stream", Metadata: map[string]string{"version": "new"}},
		}
		tree = append(tree, o)
		o.opts = storage.PutOptions{ContentType: "text/plain", CacheControl: "no-store", Metadata: map[string]string{"version": "old"}}
		old = append(old, o)
	}
	return tree, old
}

// killedSync is a sync from src to dst that syncKilled kills.
type killedSync struct {
	env      []string
	src, dst string                   // the arguments
	reset    func()                   // puts the old versions, and only them, in dst
	read     func() map[string]object // dst's objects
	// The objects of the tree's versions, as read would return them.
	oldVersion, newVersion map[string]object
	// check, if set, checks dst after each rerun.
	check func(round int)
}

// syncKilled SIGKILLs "orga-storage sync" at random points of its runs
// over a destination holding older versions: each time DST holds, for each
// key, the old object or the new one whole, content and attributes, and a
// rerun then completes the job. It returns how long a whole run takes.
func syncKilled(t *testing.T, work string, k killedSync, rounds int) time.Duration {
	t.Helper()
	n := len(k.newVersion)
	// How long a whole run takes here sets the range of the kills: the
	// shorter of two, on a machine that others share.
	var whole time.Duration
	for i := range 2 {
		k.reset()
		start := time.Now()
		okIn(t, work, k.env, "sync", "--concurrency", "2", k.src, k.dst)
		if d := time.Since(start); i == 0 || d < whole {
			whole = d
		}
	}
	t.Logf("a whole sync takes %v", whole)

	var midway int
	for round := range rounds {
		k.reset()
		cmd := exec.Command(binary, "sync", "--concurrency", "2", k.src, k.dst)
		cmd.Dir, cmd.Env = work, k.env
		require.NoError(t, cmd.Start())
		time.Sleep(time.Duration(rand.Int64N(int64(whole))))
		require.NoError(t, cmd.Process.Kill())
		cmd.Wait()

		copied := oldOrNew(t, k.read(), k.oldVersion, k.newVersion, fmt.Sprintf("round %d", round))
		t.Logf("round %d: killed with %d of %d objects copied", round, copied, n)
		if copied > 0 && copied < n {
			midway++
		}

		out := okIn(t, work, k.env, "sync", k.src, k.dst)
		assert.Equal(t, [4]string{fmt.Sprint(n - copied), fmt.Sprint(copied), "0", "0"}, summary(t, out),
			"round %d: the rerun copies what is left and skips the rest", round)
		assert.Equal(t, k.newVersion, k.read(), "round %d", round)
		if k.check != nil {
			k.check(round)
		}
	}
	t.Logf("%d of %d kills came midway", midway, rounds)
	return whole
}

// oldOrNew checks that got holds the keys of the versions, each the old
// object or the new one whole, content and attributes, and returns how many
// are new.
func oldOrNew(t *testing.T, got, oldVersion, newVersion map[string]object, what string) (copied int) {
	t.Helper()
	require.Len(t, got, len(newVersion), "%s: no key lost, none added", what)
	for key, o := range got {
		switch {
		case reflect.DeepEqual(o, newVersion[key]):
			copied++
		case reflect.DeepEqual(o, oldVersion[key]):
		default:
			t.Errorf("%s: %s is neither the old object nor the new one: %+v", what, key, o)
		}
	}
	return copied
}
