package storage

import "sync"

// copyBuffers holds the 256 KiB buffers that bodies are copied through, by
// Local into its files and by S3 into a single PutObject, pooled so that
// concurrent uploads do not each allocate one.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
