package dataset

import (
	"runtime"
)

// attrBatchRows is how many list_attr_img.txt rows travel together through the parsing pipeline.
const attrBatchRows = 256

// attrBatch is a run of consecutive list_attr_img.txt rows: read by one goroutine, parsed by
// another, then checked and delivered in file order by the caller.
type attrBatch struct {
	lines  []int  // line number of each row
	text   []byte // the rows, concatenated
	ends   []int  // end of each row in text
	labels []int8 // nAttr labels per row, one allocation for the batch
	counts []int  // labels found in each row
	errs   []error
	done   chan struct{}
}

func (b *attrBatch) row(k int) []byte {
	start := 0
	if k > 0 {
		start = b.ends[k-1]
	}
	return b.text[start:b.ends[k]]
}

// parse parses every row of the batch. The labels are new memory, since whoever receives the
// samples may keep them; the rest of the batch is reused.
func (b *attrBatch) parse(nAttr int) {
	b.labels = make([]int8, len(b.lines)*nAttr)
	b.counts = b.counts[:len(b.lines)]
	b.errs = b.errs[:len(b.lines)]
	for k := range b.lines {
		_, b.counts[k], b.errs[k] = parseAttrRow(b.row(k), b.labels[k*nAttr:(k+1)*nAttr])
	}
	close(b.done)
}

// joinAttrRows joins list_attr_img.txt like join, parsing its rows on every core while keeping
// file order: one goroutine reads batches of rows, workers parse them, and this goroutine checks
// and delivers each row's labels (nil when the row is bad) to deliver.
func (t *table) joinAttrRows(rel string, nAttr int, deliver func(i int, labels []int8) error) ([]bool, error) {
	r, err := openList(t.w.dir, rel, true, t.w.errs)
	if r == nil || err != nil {
		return nil, err
	}
	work, ordered, quit := make(chan *attrBatch, 8), make(chan *attrBatch, 8), make(chan struct{})
	// Delivered batches come back through free, so that reading 900 MB does not allocate 900 MB.
	free := make(chan *attrBatch, 32)
	go func() {
		defer close(work)
		defer close(ordered)
		newBatch := func() *attrBatch {
			select {
			case b := <-free:
				b.lines, b.text, b.ends, b.done = b.lines[:0], b.text[:0], b.ends[:0], make(chan struct{})
				return b
			default:
				return &attrBatch{done: make(chan struct{}), text: make([]byte, 0, attrBatchRows*(3*nAttr+64)),
					counts: make([]int, attrBatchRows), errs: make([]error, attrBatchRows)}
			}
		}
		b := newBatch()
		send := func() bool {
			select {
			case ordered <- b:
			case <-quit:
				return false
			}
			work <- b // the workers never block, so this cannot stall
			b = newBatch()
			return true
		}
		for r.next() {
			b.lines = append(b.lines, r.line)
			b.text = append(b.text, r.text...)
			b.ends = append(b.ends, len(b.text))
			if len(b.lines) == attrBatchRows && !send() {
				return
			}
		}
		if len(b.lines) > 0 {
			send()
		}
	}()
	for range max(1, runtime.GOMAXPROCS(0)) {
		go func() {
			for b := range work {
				b.parse(nAttr)
			}
		}()
	}
	have := make([]bool, len(t.samples))
	if err := t.deliverAttrRows(r.path, rel, nAttr, ordered, free, have, deliver); err != nil {
		close(quit)
		for range ordered { // wait for the reader to stop before closing its file
		}
		r.f.Close()
		return nil, err
	}
	return t.endJoin(r, rel, have)
}

// deliverAttrRows checks the parsed rows in file order and delivers them.
func (t *table) deliverAttrRows(path, rel string, nAttr int, ordered <-chan *attrBatch, free chan<- *attrBatch, have []bool, deliver func(int, []int8) error) error {
	for b := range ordered {
		<-b.done
		for k, line := range b.lines {
			i, ok := t.claim(path, rel, line, firstField(b.row(k)), have)
			if !ok {
				continue
			}
			labels := b.labels[k*nAttr : (k+1)*nAttr : (k+1)*nAttr]
			switch {
			case b.errs[k] != nil:
				t.w.errs.add(path, line, "%v", b.errs[k])
				labels = nil
			case b.counts[k] != nAttr:
				t.w.errs.add(path, line, "row has %d attribute labels, want %d (%s has %d attributes)", b.counts[k], nAttr, attrAttrCloth, nAttr)
				labels = nil
			}
			if err := deliver(i, labels); err != nil {
				return err
			}
		}
		b.labels = nil
		select {
		case free <- b:
		default:
		}
	}
	return nil
}
