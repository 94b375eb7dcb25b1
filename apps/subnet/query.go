package subnet

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/dure-network/dure/chain"
)

// maxQueryItems bounds list answers.
const maxQueryItems = 100

func argU64(args map[string]string, name string) (uint64, error) {
	v, err := strconv.ParseUint(args[name], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q", chain.ErrInvalidMsg, name, args[name])
	}
	return v, nil
}

func argLimit(args map[string]string) (int, error) {
	s, ok := args["limit"]
	if !ok {
		return maxQueryItems, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%w: limit %q", chain.ErrInvalidMsg, s)
	}
	return min(v, maxQueryItems), nil
}

// CheckpointAnswer is the "checkpoint" query's answer.
type CheckpointAnswer struct {
	Subnet      string     `json:"subnet"`
	GenesisHash chain.Hash `json:"genesis_hash"`
	Hash        chain.Hash `json:"hash"`
	Accepted    Accepted   `json:"accepted"`
}

// OutboxProof is the "outbox-proof" query's answer: a withdrawal and its
// proof against the outbox root of Count leaves.
type OutboxProof struct {
	Msg   CrossMsg          `json:"msg"`
	Proof chain.MerkleProof `json:"proof"`
	Root  chain.Hash        `json:"root"`
}

// Query answers the paths Describe lists.
func (m *Module) Query(r chain.KVReader, path string, args map[string]string) (any, error) {
	switch path {
	case "params":
		return m.params(r)
	case "subnet":
		return m.subnet(r, args["subnet"])
	case "subnets":
		limit, err := argLimit(args)
		if err != nil {
			return nil, err
		}
		out := []Subnet{}
		err = r.Iterate(prefixSubnet, func(k, v []byte) (bool, error) {
			var s Subnet
			if err := m.codec.UnmarshalCanonical(v, &s); err != nil {
				return true, fmt.Errorf("%w: subnet %q: %v", ErrCorrupt, k, err)
			}
			out = append(out, s)
			return len(out) >= limit, nil
		})
		return out, err
	case "members":
		if _, err := m.subnet(r, args["subnet"]); err != nil {
			return nil, err
		}
		out := []Member{}
		err := r.Iterate(idKey(prefixMember, args["subnet"]), func(k, v []byte) (bool, error) {
			var mb Member
			if err := m.codec.UnmarshalCanonical(v, &mb); err != nil {
				return true, fmt.Errorf("%w: member %x: %v", ErrCorrupt, k, err)
			}
			out = append(out, mb)
			return len(out) >= MaxSubnetVals*4, nil
		})
		return out, err
	case "checkpoint":
		s, err := m.subnet(r, args["subnet"])
		if err != nil {
			return nil, err
		}
		h := s.Last.Height
		if args["height"] != "" && args["height"] != "latest" {
			if h, err = argU64(args, "height"); err != nil {
				return nil, err
			}
		}
		var a Accepted
		ok, err := m.get(r, cpKey(s.ID, h), &a)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: checkpoint %s/%d", chain.ErrNotFound, s.ID, h)
		}
		return CheckpointAnswer{Subnet: s.ID, GenesisHash: s.GenesisHash, Hash: a.Signed.Checkpoint.Hash(m.codec), Accepted: a}, nil
	case "checkpoints":
		s, err := m.subnet(r, args["subnet"])
		if err != nil {
			return nil, err
		}
		limit, err := argLimit(args)
		if err != nil {
			return nil, err
		}
		out := []CheckpointRecord{}
		err = r.Iterate(idKey(prefixCP, s.ID), func(k, v []byte) (bool, error) {
			var a Accepted
			if err := m.codec.UnmarshalCanonical(v, &a); err != nil {
				return true, fmt.Errorf("%w: checkpoint %x: %v", ErrCorrupt, k, err)
			}
			cp := &a.Signed.Checkpoint
			out = append(out, CheckpointRecord{Height: cp.Height, Hash: cp.Hash(m.codec), StateRoot: cp.StateRoot, MsgRoot: cp.MsgRoot,
				MsgCount: cp.MsgCount, Applied: cp.DepositsApplied, ParentHeight: a.ParentHeight})
			return len(out) >= limit, nil
		})
		return out, err
	case "deposits":
		s, err := m.subnet(r, args["subnet"])
		if err != nil {
			return nil, err
		}
		var from uint64
		if args["from"] != "" {
			if from, err = argU64(args, "from"); err != nil {
				return nil, err
			}
		}
		limit, err := argLimit(args)
		if err != nil {
			return nil, err
		}
		out := []Deposit{}
		for n := from; n < s.Deposits && len(out) < limit; n++ {
			var d Deposit
			ok, err := m.get(r, depKey(s.ID, n), &d)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("%w: deposit %d missing", ErrCorrupt, n)
			}
			out = append(out, d)
		}
		return out, nil
	case "outbox":
		if args["height"] != "" {
			h, err := argU64(args, "height")
			if err != nil {
				return nil, err
			}
			var at OutboxAt
			ok, err := m.get(r, snapKey(h), &at)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("%w: no outbox snapshot at %d (not a checkpoint height?)", chain.ErrNotFound, h)
			}
			return at, nil
		}
		f, err := m.frontier(r)
		if err != nil {
			return nil, err
		}
		return OutboxAt{Count: f.Count, Root: f.Root()}, nil
	case "endorsements":
		h, err := argU64(args, "height")
		if err != nil {
			return nil, err
		}
		out := []Endorsed{}
		p := append(bytes.Clone(prefixECP), be(h)...)
		err = r.Iterate(p, func(k, v []byte) (bool, error) {
			var cp Checkpoint
			if err := m.codec.UnmarshalCanonical(v, &cp); err != nil {
				return true, fmt.Errorf("%w: endorsed checkpoint %x: %v", ErrCorrupt, k, err)
			}
			out = append(out, Endorsed{Hash: cp.Hash(m.codec), Checkpoint: cp})
			return len(out) >= 8, nil
		})
		if err != nil {
			return nil, err
		}
		for i := range out {
			ep := append(append(bytes.Clone(prefixEnd), be(h)...), out[i].Hash[:]...)
			err := r.Iterate(ep, func(k, v []byte) (bool, error) {
				var e Endorsement
				if err := m.codec.UnmarshalCanonical(v, &e); err != nil {
					return true, fmt.Errorf("%w: endorsement %x: %v", ErrCorrupt, k, err)
				}
				out[i].Endorsements = append(out[i].Endorsements, e)
				return len(out[i].Endorsements) >= chain.MaxValidators, nil
			})
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	case "topdown":
		return m.topDownState(r)
	case "inbox":
		var from uint64
		if args["from"] != "" {
			var err error
			if from, err = argU64(args, "from"); err != nil {
				return nil, err
			}
		}
		limit, err := argLimit(args)
		if err != nil {
			return nil, err
		}
		out := []Parked{}
		err = r.Iterate(prefixInbox, func(k, v []byte) (bool, error) {
			if len(k) != len(prefixInbox)+8 {
				return true, fmt.Errorf("%w: inbox key %x", ErrCorrupt, k)
			}
			if binary.BigEndian.Uint64(k[len(prefixInbox):]) < from {
				return false, nil
			}
			var p Parked
			if err := m.codec.UnmarshalCanonical(v, &p); err != nil {
				return true, fmt.Errorf("%w: inbox %x: %v", ErrCorrupt, k, err)
			}
			out = append(out, p)
			return len(out) >= limit, nil
		})
		return out, err
	case "outbox-proof":
		nonce, err := argU64(args, "nonce")
		if err != nil {
			return nil, err
		}
		count, err := argU64(args, "count")
		if err != nil {
			return nil, err
		}
		if nonce >= count || count > MaxProofLeaves {
			return nil, fmt.Errorf("%w: nonce %d of %d (at most %d)", chain.ErrInvalidMsg, nonce, count, MaxProofLeaves)
		}
		leaves := make([][]byte, 0, count)
		err = r.Iterate(prefixOut, func(k, v []byte) (bool, error) {
			if len(k) != len(prefixOut)+8 || binary.BigEndian.Uint64(k[len(prefixOut):]) != uint64(len(leaves)) {
				return true, fmt.Errorf("%w: outbox key %x", ErrCorrupt, k)
			}
			leaves = append(leaves, v)
			return uint64(len(leaves)) >= count, nil
		})
		if err != nil {
			return nil, err
		}
		if uint64(len(leaves)) < count {
			return nil, fmt.Errorf("%w: outbox has %d messages, not %d", chain.ErrNotFound, len(leaves), count)
		}
		var x CrossMsg
		if err := m.codec.UnmarshalCanonical(leaves[nonce], &x); err != nil {
			return nil, fmt.Errorf("%w: outbox %d: %v", ErrCorrupt, nonce, err)
		}
		p, err := chain.MerkleProve(leaves, int(nonce))
		if err != nil {
			return nil, err
		}
		return OutboxProof{Msg: x, Proof: p, Root: chain.MerkleRoot(leaves)}, nil
	}
	return nil, fmt.Errorf("%w: subnet query %q", chain.ErrUnknownMsg, path)
}

// VerifyAnswer is the client's own check of a proven answer: for
// "checkpoint", the signatures of the stored checkpoint by the set stored
// with it, more than 2/3 of its power, re-verified here.
func (m *Module) VerifyAnswer(path string, answer []byte) (string, error) {
	if path != "checkpoint" {
		return "", nil
	}
	var a CheckpointAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		return "", fmt.Errorf("checkpoint answer: %w", err)
	}
	if h := a.Accepted.Signed.Checkpoint.Hash(m.codec); h != a.Hash {
		return "", fmt.Errorf("%w: checkpoint hashes to %s, answer says %s", ErrBadSignature, h, a.Hash)
	}
	if err := a.Accepted.Verify(m.codec, a.GenesisHash); err != nil {
		return "", err
	}
	vs, _ := chain.NewValidatorSet(a.Accepted.Signers)
	return fmt.Sprintf("checkpoint %d of %s: %d signatures from its registered set (%d validators, power %d) verified locally",
		a.Accepted.Signed.Checkpoint.Height, a.Subnet, len(a.Accepted.Signed.Sigs), vs.Len(), vs.TotalPower()), nil
}
