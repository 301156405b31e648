package policy

import (
	"bytes"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// A piece of schema.yaml's tables (see split.go) is almost always written in a few
// forms of YAML: block lists and mappings, flow lists and mappings on one line, plain
// and quoted scalars on one line, comments. yaml.v3 reads any YAML, a byte at a time
// through a token queue and events, and most of a large file's reading time was
// spent there. readFast reads those few forms directly into the tree yaml.v3 would
// build, and declines everything else — anchors, aliases, tags, block scalars,
// scalars over several lines, empty values, tabs, escapes other than \\ \" \n \t —
// which is then read by yaml.v3. Comments are dropped: the decoder does not read
// them. TestFastReadingAgrees and FuzzFastReading hold that every tree it builds is
// the one yaml.v3 builds.

// fastReader reads one piece.
type fastReader struct {
	text  []byte
	lines []fastLine
	first int // the file's 0-based line of the piece's first line
	k     int // the line being read
	slab  []yaml.Node
	// strs holds each short scalar once: the same names and types recur in every table.
	strs map[string]string
}

// fastLine is a line of the piece: its text is text[start:end], without the line
// break; indent is its leading spaces, or -1 when it holds nothing but spaces and a
// comment.
type fastLine struct {
	start, end int
	indent     int
	ascii      bool
}

// readFast returns the block list text holds, with the lines it would have at line
// first (0-based) of the file, or false when text is not in the forms it reads.
func readFast(text []byte, first int) (*yaml.Node, bool) {
	r := &fastReader{text: text, first: first, strs: map[string]string{}}
	if !r.splitLines() {
		return nil, false
	}
	r.skipBlank()
	if r.k == len(r.lines) {
		return nil, false
	}
	seq, ok := r.blockSeq(r.lines[r.k].indent)
	r.skipBlank()
	if !ok || r.k != len(r.lines) {
		return nil, false
	}
	return seq, true
}

// splitLines fills r.lines; false when text holds a character this reader leaves to
// yaml.v3: a tab, a control character, a lone carriage return, a byte-order mark, a
// line or paragraph separator, or text that is not UTF-8.
func (r *fastReader) splitLines() bool {
	t := r.text
	start, ascii := 0, true
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '\n':
			end := i
			if end > start && t[end-1] == '\r' {
				end--
			}
			r.addLine(start, end, ascii)
			start, ascii = i+1, true
		case c == '\r':
			if i+1 == len(t) || t[i+1] != '\n' {
				return false
			}
		case c < 0x20 || c == 0x7f:
			return false
		case c >= 0x80:
			c, size := utf8.DecodeRune(t[i:])
			if (c == utf8.RuneError && size == 1) || !printable(c) {
				return false
			}
			i += size - 1
			ascii = false
		}
	}
	if start < len(t) {
		r.addLine(start, len(t), ascii)
	}
	return true
}

// printable reports whether YAML reads non-ASCII rune c as a character of a line
// (U+0085, U+2028 and U+2029 break lines; U+FEFF marks the byte order).
func printable(c rune) bool {
	switch {
	case c >= 0xa0 && c <= 0xd7ff:
		return c != 0x2028 && c != 0x2029
	case c >= 0xe000 && c <= 0xfffd:
		return c != 0xfeff
	default:
		return c >= 0x10000 && c <= utf8.MaxRune
	}
}

// addLine adds the line text[start:end] to r.lines.
func (r *fastReader) addLine(start, end int, ascii bool) {
	p := skipSpaces(r.text, start, end)
	indent := p - start
	if p == end || r.text[p] == '#' {
		indent = -1
	}
	r.lines = append(r.lines, fastLine{start: start, end: end, indent: indent, ascii: ascii})
}

// skipSpaces returns the first offset from p, before end, that is not a space.
func skipSpaces(t []byte, p, end int) int {
	for p < end && t[p] == ' ' {
		p++
	}
	return p
}

// skipBlank moves past lines that hold nothing or only a comment.
func (r *fastReader) skipBlank() {
	for r.k < len(r.lines) && r.lines[r.k].indent < 0 {
		r.k++
	}
}

// node returns a new node of the given kind at offset p of line k.
func (r *fastReader) node(kind yaml.Kind, tag, value string, k, p int) *yaml.Node {
	if len(r.slab) == 0 {
		r.slab = make([]yaml.Node, 64)
	}
	n := &r.slab[0]
	r.slab = r.slab[1:]
	l := r.lines[k]
	col := p - l.start + 1
	if !l.ascii {
		col = utf8.RuneCount(r.text[l.start:p]) + 1 // YAML counts characters
	}
	n.Kind, n.Tag, n.Value, n.Line, n.Column = kind, tag, value, r.first+k+1, col
	return n
}

// str returns b as a string, the same string for the same short text.
func (r *fastReader) str(b []byte) string {
	if len(b) > 32 {
		return string(b)
	}
	if s, ok := r.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	r.strs[s] = s
	return s
}

// plain returns the plain scalar b at offset p of line k, tagged as yaml.v3 resolves it.
func (r *fastReader) plain(b []byte, k, p int) *yaml.Node {
	v := r.str(b)
	return r.node(yaml.ScalarNode, plainTag(v), v, k, p)
}

// plainTag returns the tag yaml.v3 gives plain scalar v: only those starting with a
// sign, a dot or a digit take parsing (numbers, timestamps); the other words it knows
// are a few.
func plainTag(v string) string {
	switch v {
	case "true", "True", "TRUE", "false", "False", "FALSE":
		return "!!bool"
	case "~", "null", "Null", "NULL":
		return "!!null"
	case "<<":
		return "!!merge"
	}
	if c := v[0]; c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9') {
		return (&yaml.Node{Kind: yaml.ScalarNode, Value: v}).ShortTag()
	}
	return "!!str"
}

// plainStart reports whether a plain scalar may start at t[p]: not an indicator, and
// "-" only before a letter or digit.
func plainStart(t []byte, p, end int) bool {
	if p >= end {
		return false
	}
	switch t[p] {
	case '-':
		return p+1 < end && isAlnum(t[p+1])
	case '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ':
		return false
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// endsLine reports whether nothing but spaces and a comment follow offset p of line l.
func (r *fastReader) endsLine(p int, l fastLine) bool {
	q := skipSpaces(r.text, p, l.end)
	return q == l.end || (r.text[q] == '#' && q > p)
}

// blockSeq reads a block list whose "-" are at column indent, from line r.k.
func (r *fastReader) blockSeq(indent int) (*yaml.Node, bool) {
	l := r.lines[r.k]
	seq := r.node(yaml.SequenceNode, "!!seq", "", r.k, l.start+indent)
	for {
		r.skipBlank()
		if r.k == len(r.lines) || r.lines[r.k].indent < indent {
			return seq, true
		}
		l = r.lines[r.k]
		if l.indent > indent || !isItem(r.text[l.start+indent:l.end]) {
			return nil, false
		}
		item, ok := r.entry(l.start+indent+1, indent)
		if !ok {
			return nil, false
		}
		seq.Content = append(seq.Content, item)
	}
}

// entry reads a list item, its text from offset p of line r.k (after the "-").
func (r *fastReader) entry(p, indent int) (*yaml.Node, bool) {
	l := r.lines[r.k]
	if r.endsLine(p, l) {
		r.k++
		return r.nested(indent)
	}
	p = skipSpaces(r.text, p, l.end)
	if r.keyEnd(p, l) >= 0 {
		return r.blockMap(p - l.start) // "- name: x": a mapping at the key's column
	}
	return r.value(p, indent)
}

// nested reads the block list or mapping that starts on the next line holding
// something, indented more than indent.
func (r *fastReader) nested(indent int) (*yaml.Node, bool) {
	r.skipBlank()
	if r.k == len(r.lines) || r.lines[r.k].indent <= indent {
		return nil, false // an empty value, or a list at its key's column: yaml.v3's
	}
	l := r.lines[r.k]
	switch {
	case isItem(r.text[l.start+l.indent : l.end]):
		return r.blockSeq(l.indent)
	case r.keyEnd(l.start+l.indent, l) >= 0:
		return r.blockMap(l.indent)
	}
	return nil, false
}

// keyEnd returns the offset of the ":" that ends a plain key starting at offset p of
// line l, or -1 when no such key starts there.
func (r *fastReader) keyEnd(p int, l fastLine) int {
	t := r.text
	if !plainStart(t, p, l.end) {
		return -1
	}
	for i := p; i < l.end && i-p < maxKey; i++ {
		switch t[i] {
		case ':':
			if i+1 == l.end || t[i+1] == ' ' {
				if t[i-1] == ' ' {
					return -1 // "key :": spaces yaml.v3 trims
				}
				return i
			}
		case '#':
			if t[i-1] == ' ' {
				return -1
			}
		}
	}
	return -1
}

// maxKey bounds a key's length: yaml.v3 finds no key over 1,024 characters long.
const maxKey = 1000

// blockMap reads a block mapping whose keys are at column indent, the first on line
// r.k.
func (r *fastReader) blockMap(indent int) (*yaml.Node, bool) {
	m := r.node(yaml.MappingNode, "!!map", "", r.k, r.lines[r.k].start+indent)
	for first := true; ; first = false {
		if !first {
			r.skipBlank()
			if r.k == len(r.lines) || r.lines[r.k].indent < indent {
				return m, true
			}
			if r.lines[r.k].indent > indent {
				return nil, false
			}
		}
		l := r.lines[r.k]
		p := l.start + indent
		colon := r.keyEnd(p, l)
		if colon < 0 {
			return nil, false
		}
		key := r.plain(r.text[p:colon], r.k, p)
		var v *yaml.Node
		var ok bool
		if r.endsLine(colon+1, l) {
			r.k++
			v, ok = r.nested(indent)
		} else {
			v, ok = r.value(skipSpaces(r.text, colon+1, l.end), indent)
		}
		if !ok {
			return nil, false
		}
		m.Content = append(m.Content, key, v)
	}
}

// value reads the scalar or flow collection at offset p of line r.k, which must end
// the line, and moves to the next line; the next line holding something must not be
// indented more than indent (it would continue the value).
func (r *fastReader) value(p, indent int) (*yaml.Node, bool) {
	l := r.lines[r.k]
	t := r.text
	var n *yaml.Node
	var ok bool
	switch t[p] {
	case '{', '[':
		n, p, ok = r.flow(p, l)
	case '"', '\'':
		n, p, ok = r.quoted(p, l)
	default:
		if !plainStart(t, p, l.end) {
			return nil, false
		}
		e := p
		for e < l.end && !(t[e] == '#' && t[e-1] == ' ') {
			if t[e] == ':' && (e+1 == l.end || t[e+1] == ' ') {
				return nil, false // a mapping where a value is
			}
			e++
		}
		q := e
		for t[q-1] == ' ' {
			q--
		}
		n, p, ok = r.plain(t[p:q], r.k, p), q, true
	}
	if !ok || !r.endsLine(p, l) {
		return nil, false
	}
	r.k++
	r.skipBlank()
	return n, r.k == len(r.lines) || r.lines[r.k].indent <= indent
}

// quoted reads the single- or double-quoted scalar at offset p of line l, returning
// the offset after it.
func (r *fastReader) quoted(p int, l fastLine) (*yaml.Node, int, bool) {
	t := r.text
	q := t[p]
	var b []byte
	plainRun := true // no escape yet: the value is a slice of the text
	i := p + 1
	for ; i < l.end; i++ {
		c := t[i]
		switch {
		case c == q && q == '\'' && i+1 < l.end && t[i+1] == '\'':
			b = r.escaped(b, plainRun, p+1, i, '\'')
			plainRun = false
			i++
			continue
		case c == q:
			if plainRun {
				b = t[p+1 : i]
			}
			style := yaml.SingleQuotedStyle
			if q == '"' {
				style = yaml.DoubleQuotedStyle
			}
			n := r.node(yaml.ScalarNode, "!!str", r.str(b), r.k, p)
			n.Style = style
			return n, i + 1, true
		case c == '\\' && q == '"':
			if i+1 == l.end {
				return nil, 0, false
			}
			e, ok := escapes[t[i+1]]
			if !ok {
				return nil, 0, false
			}
			b = r.escaped(b, plainRun, p+1, i, e)
			plainRun = false
			i++
			continue
		}
		if !plainRun {
			b = append(b, c)
		}
	}
	return nil, 0, false // runs over the line
}

// escapes are the escapes of double-quoted scalars readFast reads, and what they
// stand for.
var escapes = map[byte]byte{'\\': '\\', '"': '"', 'n': '\n', 't': '\t'}

// escaped appends c to b, first copying text[from:to] when b is still a slice of it.
func (r *fastReader) escaped(b []byte, plainRun bool, from, to int, c byte) []byte {
	if plainRun {
		b = append([]byte(nil), r.text[from:to]...)
	}
	return append(b, c)
}

// flow reads the flow mapping or list at offset p of line l, which must close on it,
// returning the offset after it.
func (r *fastReader) flow(p int, l fastLine) (*yaml.Node, int, bool) {
	t := r.text
	kind, tag, closing := yaml.SequenceNode, "!!seq", byte(']')
	if t[p] == '{' {
		kind, tag, closing = yaml.MappingNode, "!!map", '}'
	}
	n := r.node(kind, tag, "", r.k, p)
	n.Style = yaml.FlowStyle
	q := skipSpaces(t, p+1, l.end)
	if q < l.end && t[q] == closing {
		return n, q + 1, true
	}
	// Room for every entry the rest of the line could hold.
	entries := bytes.Count(t[p:l.end], []byte(",")) + 1
	if kind == yaml.MappingNode {
		entries *= 2
	}
	n.Content = make([]*yaml.Node, 0, entries)
	for {
		if kind == yaml.MappingNode {
			e := r.flowPlainEnd(q, l)
			if e == q || e == l.end || t[e] != ':' || t[e-1] == ' ' || e+1 == l.end || t[e+1] != ' ' || e-q >= maxKey {
				return nil, 0, false
			}
			n.Content = append(n.Content, r.plain(t[q:e], r.k, q))
			q = skipSpaces(t, e+1, l.end)
		}
		if q == l.end {
			return nil, 0, false
		}
		var v *yaml.Node
		var ok bool
		switch t[q] {
		case '{', '[':
			v, q, ok = r.flow(q, l)
		case '"', '\'':
			v, q, ok = r.quoted(q, l)
		default:
			e := r.flowPlainEnd(q, l)
			if e == q || (e < l.end && t[e] == ':') {
				return nil, 0, false
			}
			end := e
			for t[end-1] == ' ' {
				end--
			}
			v, q, ok = r.plain(t[q:end], r.k, q), e, true
		}
		if !ok {
			return nil, 0, false
		}
		n.Content = append(n.Content, v)
		q = skipSpaces(t, q, l.end)
		switch {
		case q == l.end:
			return nil, 0, false
		case t[q] == closing:
			return n, q + 1, true
		case t[q] != ',':
			return nil, 0, false
		}
		q = skipSpaces(t, q+1, l.end)
		if q == l.end || t[q] == closing || t[q] == ',' {
			return nil, 0, false // a trailing or empty entry
		}
	}
}

// flowPlainEnd returns the offset where the plain scalar starting at offset q of
// line l ends inside a flow collection, q itself when none starts there: at a flow
// indicator, a ":" before a space or the line's end, or a comment.
func (r *fastReader) flowPlainEnd(q int, l fastLine) int {
	t := r.text
	if !plainStart(t, q, l.end) {
		return q
	}
	for e := q; e < l.end; e++ {
		switch t[e] {
		case ',', '?', '[', ']', '{', '}':
			return e
		case ':':
			if e+1 == l.end || t[e+1] == ' ' {
				return e
			}
		case '#':
			if t[e-1] == ' ' {
				return e
			}
		}
	}
	return l.end
}
