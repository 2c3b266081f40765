package redisstore

import (
	"fmt"

	"github.com/flashdrop/flashdrop/engine"
)

// Result codes the scripts return. They are the only vocabulary between Lua
// and Go, and codeErr is the only place they become errors.
const (
	codeOK            = 0
	codeWon           = 1
	codeSoldOut       = 2
	codeNotFound      = 3
	codeNotRegistered = 4
	codeSaleNotOpen   = 5
	codeSaleClosed    = 6
	codePaused        = 7
	codeLimit         = 8
	codeIdemMismatch  = 9
	codeForbidden     = 10
	codeExpired       = 11
	codeCancelled     = 12
	codeConfirmed     = 13
	codeRegNotOpen    = 14
	codeRegClosed     = 15
	codeExists        = 16
	codeShopConfirms  = 17
	// The week's scripts (draw*.lua, announce.lua, fanout.lua).
	codeNotDraw   = 18
	codeNotSealed = 19
	codeMoved     = 20
	codeDone      = 21
	// delete.lua and create.lua.
	codeInUse          = 30
	codeDeleted        = 31
	codeDeletedAlready = 32
)

var codeErrors = map[int64]error{
	codeNotFound:      engine.ErrNotFound,
	codeNotRegistered: engine.ErrNotRegistered,
	codeSaleNotOpen:   engine.ErrSaleNotOpen,
	codeSaleClosed:    engine.ErrSaleClosed,
	codePaused:        engine.ErrSalePaused,
	codeLimit:         engine.ErrLimitReached,
	codeIdemMismatch:  engine.ErrIdempotencyMismatch,
	codeForbidden:     engine.ErrForbidden,
	codeExpired:       engine.ErrExpired,
	codeCancelled:     engine.ErrCancelled,
	codeConfirmed:     engine.ErrConfirmed,
	codeRegNotOpen:    engine.ErrRegistrationNotOpen,
	codeRegClosed:     engine.ErrRegistrationClosed,
	codeExists:        engine.ErrDropExists,
	codeShopConfirms:  engine.ErrShopConfirms,
}

// codeErr maps a script result code to the engine's error for it. codeOK
// and codeWon map to nil; codeSoldOut carries the waitlist position and,
// for a request for more than was left, the units left (soldOutErr).
func codeErr(code, waitlistPos int64) error {
	return soldOutErr(code, waitlistPos, 0)
}

// soldOutErr is codeErr with the units left on a sold-out answer.
func soldOutErr(code, waitlistPos, available int64) error {
	switch code {
	case codeOK, codeWon:
		return nil
	case codeSoldOut:
		if waitlistPos > 0 || available > 0 {
			return &engine.SoldOutError{WaitlistPosition: waitlistPos, Available: available}
		}
		return engine.ErrSoldOut
	}
	if err, ok := codeErrors[code]; ok {
		return err
	}
	return fmt.Errorf("redisstore: unknown script result code %d", code)
}
