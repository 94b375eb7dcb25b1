package energy

import (
	"github.com/dure-network/dure/chain"
)

// Message types (chain.Msg.Type).
const (
	TypeCreateMarket   = "create-market"
	TypeGrantOperator  = "grant-operator"
	TypeRevokeOperator = "revoke-operator"
	TypeRegisterMeter  = "register-meter"
	TypeAttestMeter    = "attest-meter"
	TypeSuspendMeter   = "suspend-meter"
	TypeSubmitReadings = "submit-readings"
	TypeCorrectReading = "correct-reading"
	TypeOffer          = "offer"
	TypeBid            = "bid"
	TypeCancel         = "cancel"
	TypeStartSession   = "start-session"
	TypeEndSession     = "end-session"
)

// MsgTypes lists every message type, in the order doc.go describes them.
func MsgTypes() []string {
	return []string{TypeCreateMarket, TypeGrantOperator, TypeRevokeOperator, TypeRegisterMeter, TypeAttestMeter,
		TypeSuspendMeter, TypeSubmitReadings, TypeCorrectReading, TypeOffer, TypeBid, TypeCancel,
		TypeStartSession, TypeEndSession}
}

// CreateMarket opens a market; the sender becomes its creator and the
// first operator is Market.Operator (also the fee recipient). Creator in
// the body is ignored and set to the sender.
type CreateMarket struct {
	_      struct{} `cbor:",toarray"`
	Market Market
}

// OperatorChange grants or revokes the operator role (creator only).
type OperatorChange struct {
	_       struct{} `cbor:",toarray"`
	Market  string
	Account chain.Address
}

// RegisterMeter registers a device owned by the sender. Tariff is for EV
// chargers only (price units per kWh).
type RegisterMeter struct {
	_         struct{} `cbor:",toarray"`
	ID        string
	Market    string
	DeviceKey chain.PubKey
	Kind      string
	Tariff    uint64
}

// MeterAction is the body of attest-meter and suspend-meter (operator).
// Lift, for suspend-meter, reinstates a suspended meter.
type MeterAction struct {
	_     struct{} `cbor:",toarray"`
	Meter string
	Lift  bool
}

// SubmitReadings carries device-signed readings, from anyone (a gateway).
// All signatures are verified in one batch; one bad reading refuses all.
type SubmitReadings struct {
	_        struct{} `cbor:",toarray"`
	Readings []Reading
}

// CorrectReading replaces the energy of a meter's last reading (operator),
// before the interval settles.
type CorrectReading struct {
	_             struct{} `cbor:",toarray"`
	Meter         string
	IntervalStart int64
	ImportWh      uint64
	ExportWh      uint64
	Reason        string
}

// PlaceOrder is the body of offer and bid: Wh for one delivery interval
// at a price per kWh (a seller's minimum; a buyer's maximum including the
// grid fee).
type PlaceOrder struct {
	_        struct{} `cbor:",toarray"`
	Meter    string
	Interval int64
	Wh       uint64
	Price    uint64
}

// Cancel withdraws an order before gate closure; a bid's escrow returns.
type Cancel struct {
	_     struct{} `cbor:",toarray"`
	Order uint64
}

// StartSession opens an EV charging session at a charger meter: up to
// MaxWh at the charger's tariff, if tariff plus grid fee is at most
// MaxPrice; Deadline (0: one day) is when the session must have ended.
type StartSession struct {
	_        struct{} `cbor:",toarray"`
	Charger  string
	MaxWh    uint64
	MaxPrice uint64
	Deadline int64
}

// EndSession submits the charger's signed session reading, from anyone.
type EndSession struct {
	_       struct{} `cbor:",toarray"`
	Reading SessionReading
}

// readingDoc is what a device signs for an interval reading.
type readingDoc struct {
	_             struct{} `cbor:",toarray"`
	Domain        string
	Meter         string
	IntervalStart int64
	Counter       uint64
	StartImportWh uint64
	StartExportWh uint64
	EndImportWh   uint64
	EndExportWh   uint64
	Flag          uint8
}

// sessionDoc is what a charger signs for a session reading.
type sessionDoc struct {
	_       struct{} `cbor:",toarray"`
	Domain  string
	Session uint64
	Charger string
	Counter uint64
	StartWh uint64
	StopWh  uint64
}

// Signing domains: a device signature of one kind can never be replayed
// as another, nor as a transaction or vote.
const (
	domainReading = "dure/energy/reading/v1"
	domainSession = "dure/energy/session/v1"
)

// SignBytes is what the device key signs: the reading without its
// signature, behind a domain tag, in canonical CBOR.
func (r *Reading) SignBytes(c *chain.Codec) ([]byte, error) {
	return c.Marshal(readingDoc{Domain: domainReading, Meter: r.Meter, IntervalStart: r.IntervalStart,
		Counter: r.Counter, StartImportWh: r.StartImportWh, StartExportWh: r.StartExportWh,
		EndImportWh: r.EndImportWh, EndExportWh: r.EndExportWh, Flag: r.Flag})
}

// Sign sets the reading's signature with the device key.
func (r *Reading) Sign(c *chain.Codec, device chain.PrivKey) error {
	b, err := r.SignBytes(c)
	if err != nil {
		return err
	}
	r.Sig = device.Sign(b)
	return nil
}

// SignBytes is what the charger's device key signs.
func (r *SessionReading) SignBytes(c *chain.Codec) ([]byte, error) {
	return c.Marshal(sessionDoc{Domain: domainSession, Session: r.Session, Charger: r.Charger,
		Counter: r.Counter, StartWh: r.StartWh, StopWh: r.StopWh})
}

// Sign sets the session reading's signature with the charger's key.
func (r *SessionReading) Sign(c *chain.Codec, device chain.PrivKey) error {
	b, err := r.SignBytes(c)
	if err != nil {
		return err
	}
	r.Sig = device.Sign(b)
	return nil
}

func encode(c *chain.Codec, typ string, body any) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, typ, body)
}

// MsgCreateMarket builds a create-market message.
func MsgCreateMarket(c *chain.Codec, mk Market) (chain.Msg, error) {
	return encode(c, TypeCreateMarket, CreateMarket{Market: mk})
}

// MsgGrantOperator builds a grant-operator message.
func MsgGrantOperator(c *chain.Codec, market string, a chain.Address) (chain.Msg, error) {
	return encode(c, TypeGrantOperator, OperatorChange{Market: market, Account: a})
}

// MsgRevokeOperator builds a revoke-operator message.
func MsgRevokeOperator(c *chain.Codec, market string, a chain.Address) (chain.Msg, error) {
	return encode(c, TypeRevokeOperator, OperatorChange{Market: market, Account: a})
}

// MsgRegisterMeter builds a register-meter message.
func MsgRegisterMeter(c *chain.Codec, id, market string, device chain.PubKey, kind string, tariff uint64) (chain.Msg, error) {
	return encode(c, TypeRegisterMeter, RegisterMeter{ID: id, Market: market, DeviceKey: device, Kind: kind, Tariff: tariff})
}

// MsgAttestMeter builds an attest-meter message.
func MsgAttestMeter(c *chain.Codec, meter string) (chain.Msg, error) {
	return encode(c, TypeAttestMeter, MeterAction{Meter: meter})
}

// MsgSuspendMeter builds a suspend-meter message (lift: reinstate).
func MsgSuspendMeter(c *chain.Codec, meter string, lift bool) (chain.Msg, error) {
	return encode(c, TypeSuspendMeter, MeterAction{Meter: meter, Lift: lift})
}

// MsgSubmitReadings builds a submit-readings message.
func MsgSubmitReadings(c *chain.Codec, rs []Reading) (chain.Msg, error) {
	return encode(c, TypeSubmitReadings, SubmitReadings{Readings: rs})
}

// MsgCorrectReading builds a correct-reading message.
func MsgCorrectReading(c *chain.Codec, meter string, t int64, importWh, exportWh uint64, reason string) (chain.Msg, error) {
	return encode(c, TypeCorrectReading, CorrectReading{Meter: meter, IntervalStart: t, ImportWh: importWh, ExportWh: exportWh, Reason: reason})
}

// MsgOffer builds a sell offer.
func MsgOffer(c *chain.Codec, meter string, t int64, wh, minPrice uint64) (chain.Msg, error) {
	return encode(c, TypeOffer, PlaceOrder{Meter: meter, Interval: t, Wh: wh, Price: minPrice})
}

// MsgBid builds a buy bid.
func MsgBid(c *chain.Codec, meter string, t int64, wh, maxPrice uint64) (chain.Msg, error) {
	return encode(c, TypeBid, PlaceOrder{Meter: meter, Interval: t, Wh: wh, Price: maxPrice})
}

// MsgCancel builds a cancel message.
func MsgCancel(c *chain.Codec, order uint64) (chain.Msg, error) {
	return encode(c, TypeCancel, Cancel{Order: order})
}

// MsgStartSession builds a start-session message.
func MsgStartSession(c *chain.Codec, charger string, maxWh, maxPrice uint64, deadline int64) (chain.Msg, error) {
	return encode(c, TypeStartSession, StartSession{Charger: charger, MaxWh: maxWh, MaxPrice: maxPrice, Deadline: deadline})
}

// MsgEndSession builds an end-session message.
func MsgEndSession(c *chain.Codec, r SessionReading) (chain.Msg, error) {
	return encode(c, TypeEndSession, EndSession{Reading: r})
}
