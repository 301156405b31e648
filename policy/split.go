package policy

import (
	"bytes"
	"runtime"

	"gopkg.in/yaml.v3"
)

// A schema.yaml's tables are most of it, and a YAML tree costs about forty times the
// text it was read from. So that reading a large file needs a few tables' trees at a
// time, and builds those trees on every core, Parse cuts the tables out of the text
// when it safely can: the items of a top-level block list
//
//	tables:
//	  - name: todos
//	    ...
//
// are read in pieces of consecutive items, each piece a YAML document of its own that
// keeps its lines' indentation (so columns are the file's) and is shifted to its place
// in the file (so lines are too). The rest of the file is read with those lines blanked
// and "tables: []" in place of the key's line. Anything that makes the pieces mean
// something other than the whole — an alias to an anchor in another piece, a tag
// directive, a quoted or flow value cut at an item's line, a "tables:" line that is not
// the file's key — makes one of the readings fail or its shape differ, and then the
// whole file is read at once, which also gives any YAML error its usual position.
// FuzzParse and TestSplitReadingAgrees hold that both readings agree.

// pieceSize is about how many bytes of items a piece holds: enough that the cost of
// starting a YAML parser is small beside the parse.
const pieceSize = 16 << 10

// tablesSplit is a file cut at its tables' items: the rest of the file, and the pieces.
type tablesSplit struct {
	head    []byte
	keyLine int // the 0-based line of "tables:"
	pieces  []piece
}

// piece is the text of one or more consecutive items, the 0-based line it starts on,
// and how many items it holds.
type piece struct {
	text  []byte
	line  int
	items int
}

// splitTables cuts data, whose lines start at starts (see lineStarts), at the items of
// its top-level "tables:" block list; ok is false when the file has no such list.
func splitTables(data []byte, starts []int) (tablesSplit, bool) {
	line := func(i int) []byte { return data[starts[i]:starts[i+1]] }
	lines := len(starts) - 1
	key := -1
	for i := range lines {
		if isTablesKey(line(i)) {
			if key >= 0 {
				return tablesSplit{}, false // a repeated key: the whole reading reports it
			}
			key = i
		}
	}
	if key < 0 {
		return tablesSplit{}, false
	}
	indent := -1
	var items []int
	end := lines
	for i := key + 1; i < lines; i++ {
		l := line(i)
		if blankOrComment(l) {
			continue
		}
		n := len(l) - len(bytes.TrimLeft(l, " "))
		if indent < 0 {
			if !isItem(l[n:]) {
				return tablesSplit{}, false // a flow list, or not a list: read whole
			}
			indent = n
		}
		if n < indent || (n == indent && !isItem(l[n:])) {
			end = i
			break
		}
		if n == indent {
			items = append(items, i)
		}
	}
	if len(items) == 0 {
		return tablesSplit{}, false
	}
	s := tablesSplit{keyLine: key}
	for j := 0; j < len(items); {
		first, k := items[j], j+1
		for k < len(items) && starts[items[k]]-starts[first] < pieceSize {
			k++
		}
		stop := end
		if k < len(items) {
			stop = items[k]
		}
		s.pieces = append(s.pieces, piece{text: data[starts[first]:starts[stop]], line: first, items: k - j})
		j = k
	}
	// The head keeps every other line, and an empty one for each line an item took.
	head := make([]byte, 0, starts[items[0]]+(end-items[0])+len(data)-starts[end]+len("[]"))
	head = append(head, data[:starts[key]]...)
	head = append(head, "tables: []\n"...)
	head = append(head, data[starts[key+1]:starts[items[0]]]...)
	for range end - items[0] {
		head = append(head, '\n')
	}
	s.head = append(head, data[starts[end]:]...)
	return s, true
}

// lineStarts returns the offset in data of each line's start, and len(data) last.
func lineStarts(data []byte) []int {
	starts := make([]int, 0, bytes.Count(data, []byte("\n"))+2)
	starts = append(starts, 0)
	for i, c := range data {
		if c == '\n' && i+1 < len(data) {
			starts = append(starts, i+1)
		}
	}
	return append(starts, len(data))
}

// isTablesKey reports whether l is "tables:" at the start of a line, with nothing after
// it but spaces and a comment (which YAML starts only after a space: "tables:#x" is a
// plain scalar).
func isTablesKey(l []byte) bool {
	rest, ok := bytes.CutPrefix(l, []byte("tables:"))
	if !ok {
		return false
	}
	t := bytes.TrimLeft(rest, " \t\r\n")
	return len(t) == 0 || (t[0] == '#' && len(t) < len(rest))
}

// blankOrComment reports whether line l holds nothing but spaces and a comment.
func blankOrComment(l []byte) bool {
	t := bytes.TrimLeft(l, " \t\r\n")
	return len(t) == 0 || t[0] == '#'
}

// isItem reports whether l (its indentation removed) starts a list item.
func isItem(l []byte) bool {
	return len(l) > 0 && l[0] == '-' && (len(l) == 1 || l[1] == ' ' || l[1] == '\n' || l[1] == '\r')
}

// readPiece builds the trees of a piece's items, with the file's lines (by readFast
// when the piece is in the forms it reads, else by yaml.v3); ok is false when its text
// is not that many items of a block list in one YAML document.
func readPiece(p piece) (items []*yaml.Node, ok bool) {
	if seq, ok := readFast(p.text, p.line); ok {
		return seq.Content, len(seq.Content) == p.items
	}
	// A piece holds no document marker ("---" and "..." at a line's start end the
	// list), so it is one document, read from memory.
	var doc yaml.Node
	if err := yaml.Unmarshal(p.text, &doc); err != nil {
		return nil, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, false
	}
	seq := doc.Content[0]
	if seq.Kind != yaml.SequenceNode || seq.Style != 0 || len(seq.Content) != p.items || seq.Anchor != "" || seq.Tag != "!!seq" {
		return nil, false
	}
	for _, item := range seq.Content {
		shiftLines(item, p.line)
	}
	return seq.Content, true
}

// shiftLines adds by to the line of every node under n (a tree read from text holds
// each node once; an alias is a node of its own).
func shiftLines(n *yaml.Node, by int) {
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}

// parsedPiece is what readPiece returns.
type parsedPiece struct {
	items []*yaml.Node
	ok    bool
}

// readTables builds the pieces' trees on every core and hands each item, in the file's
// order, to use, holding a few dozen pieces' trees at most. It returns false, having
// stopped, when a piece cannot be read on its own or use returns false.
func readTables(pieces []piece, use func(item *yaml.Node) bool) bool {
	const window = 16
	// Piece i's trees go through results[i%window]: they are taken before piece
	// i+window's slot is.
	results := make([]chan parsedPiece, window)
	for i := range results {
		results[i] = make(chan parsedPiece, 1)
	}
	jobs := make(chan int)
	done := make(chan struct{})
	defer close(done)
	// Slots are taken in the file's order, so the piece awaited next always has one.
	slots := make(chan struct{}, window)
	go func() {
		defer close(jobs)
		for i := range pieces {
			select {
			case slots <- struct{}{}:
			case <-done:
				return
			}
			select {
			case jobs <- i:
			case <-done:
				return
			}
		}
	}()
	for range min(runtime.GOMAXPROCS(0), len(pieces)) {
		go func() {
			for i := range jobs {
				items, ok := readPiece(pieces[i])
				results[i%window] <- parsedPiece{items, ok}
			}
		}()
	}
	for i := range pieces {
		r := <-results[i%window]
		<-slots
		if !r.ok {
			return false
		}
		for _, item := range r.items {
			if !use(item) {
				return false
			}
		}
	}
	return true
}
