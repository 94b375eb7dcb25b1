package api

import (
	"fmt"
	"math"
	"strconv"
)

// parseLastEventID reads an SSE Last-Event-ID header. The ids this server
// sends are block heights, so anything else is a client error: a value
// that is not a plain decimal height, or the largest uint64 (whose next
// height would wrap to 0 and replay the chain from genesis), gets a 400
// rather than a stream that silently starts somewhere else.
func parseLastEventID(v string) (from uint64, err error) {
	h, err := strconv.ParseUint(v, 10, 64)
	if err != nil || h == math.MaxUint64 {
		return 0, fmt.Errorf("%w: Last-Event-ID %q: want the height of the last event received (a decimal integer below %d)",
			ErrBadRequest, v, uint64(math.MaxUint64))
	}
	return h + 1, nil
}
