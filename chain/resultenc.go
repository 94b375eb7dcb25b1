package chain

import "encoding/binary"

// appendTxResult appends the canonical CBOR of r, the bytes
// Codec.Marshal(&r) gives (TestTxResultEncodingMatchesCodec and
// FuzzTxResultEncoding compare them): each struct a CBOR array of its
// fields, heads in shortest form, strings as text strings, nil slices as
// null. It is written out because ResultsRoot encodes every result of
// every block and the codec's reflection dominated that.
func appendTxResult(b []byte, r *TxResult) []byte {
	b = append(b, 0x84) // [code, log, gas_used, events]
	b = appendHead(b, 0, uint64(r.Code))
	b = appendText(b, r.Log)
	b = appendHead(b, 0, r.GasUsed)
	if r.Events == nil {
		return append(b, 0xf6)
	}
	b = appendHead(b, 4, uint64(len(r.Events)))
	for i := range r.Events {
		e := &r.Events[i]
		b = append(b, 0x82) // [type, attrs]
		b = appendText(b, e.Type)
		if e.Attrs == nil {
			b = append(b, 0xf6)
			continue
		}
		b = appendHead(b, 4, uint64(len(e.Attrs)))
		for _, a := range e.Attrs {
			b = append(b, 0x82) // [key, value]
			b = appendText(b, a.Key)
			b = appendText(b, a.Value)
		}
	}
	return b
}

// appendHead appends a CBOR head of major type major with argument v in
// its shortest form.
func appendHead(b []byte, major byte, v uint64) []byte {
	m := major << 5
	switch {
	case v < 24:
		return append(b, m|byte(v))
	case v <= 0xff:
		return append(b, m|24, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), v)
}

func appendText(b []byte, s string) []byte {
	return append(appendHead(b, 3, uint64(len(s))), s...)
}
