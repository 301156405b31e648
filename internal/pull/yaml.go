package pull

import (
	"encoding/json"
	"strconv"

	"gopkg.in/yaml.v3"
)

// node builds the YAML that pull writes: mappings keep their keys in the order they are
// set, and every string is a string scalar, which the encoder quotes wherever YAML
// would read it as something else (true, 50, a leading "*"): no value can turn into
// another key, type or document.
type node struct{ n *yaml.Node }

// mapping returns an empty mapping; flow writes it on one line ({name: id, type: text}).
func mapping(flow bool) node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if flow {
		n.Style = yaml.FlowStyle
	}
	return node{n}
}

// str returns a string scalar: on several lines as a literal block where that reads
// back as s exactly, else double-quoted where it is long or holds a line break.
func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if containsNewline(s) {
		n.Style = yaml.LiteralStyle
		if !readsBack(n) {
			// A block whose first line is empty and whose next is indented reads back
			// without that indentation: the encoder writes no indentation indicator.
			n.Style = yaml.DoubleQuotedStyle
		}
	} else if len(s) > 60 {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// readsBack reports whether the scalar n, written alone, reads back as its value.
func readsBack(n *yaml.Node) bool {
	data, err := yaml.Marshal(n)
	var back string
	return err == nil && yaml.Unmarshal(data, &back) == nil && back == n.Value
}

func containsNewline(s string) bool {
	for _, r := range s {
		if r == '\n' || r == '\r' {
			return true
		}
	}
	return false
}

// boolean returns a boolean scalar.
func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

// list returns a sequence of strings, on one line.
func list(items []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	for _, s := range items {
		n.Content = append(n.Content, str(s))
	}
	return n
}

// sequence returns a block sequence of nodes.
func sequence(items []*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

// set adds key: v; a nil v adds nothing.
func (m node) set(key string, v *yaml.Node) {
	if v == nil {
		return
	}
	m.n.Content = append(m.n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

// setStr adds key: s unless s is "".
func (m node) setStr(key, s string) {
	if s != "" {
		m.set(key, str(s))
	}
}

// setTrue adds key: true when b.
func (m node) setTrue(key string, b bool) {
	if b {
		m.set(key, boolean(true))
	}
}

// empty reports whether m has no key.
func (m node) empty() bool { return len(m.n.Content) == 0 }

// jsonValue returns the YAML scalar that reads back as the JSON value text (a claim's
// value): a string stays a string, 2 the number, true the boolean; false when text is
// a list, a mapping or not JSON.
func jsonValue(text string) (*yaml.Node, bool) {
	var v any
	if json.Unmarshal([]byte(text), &v) != nil {
		return nil, false
	}
	switch x := v.(type) {
	case string:
		return str(x), true
	case bool:
		return boolean(x), true
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, true
	case float64:
		tag := "!!float"
		if _, err := strconv.ParseInt(text, 10, 64); err == nil {
			tag = "!!int"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: text}, true
	}
	return nil, false
}
