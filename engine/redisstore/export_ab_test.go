package redisstore

import "github.com/redis/go-redis/v9"

// ReserveScriptSources are the reserve script's two parts as built in.
func ReserveScriptSources() (lib, reserve string) { return libLua, reserveLua }

// WithLibSource is withLib with lib as lib.lua: a script as the store
// builds it, for an A/B pair whose variant changes lib.lua too.
func WithLibSource(lib, body string) string { return parseLib(lib).prelude(body) + body }

// SoldOutScriptSource is the sold-out script (soldout.lua) as built in;
// it runs after lib.lua, as the reserve script does.
func SoldOutScriptSource() string { return soldOutLua }

// UseReserveScript makes the store run src as its reserve script (for a
// paired A/B measurement of a change to the script) and returns a func
// that puts the built-in one back. Not safe while the store runs.
func UseReserveScript(src string) (restore func()) {
	old := reserveScript
	reserveScript = redis.NewScript(src)
	return func() { reserveScript = old }
}

// UseSoldOutScript is UseReserveScript for the sold-out script.
func UseSoldOutScript(src string) (restore func()) {
	old := soldOutScript
	soldOutScript = redis.NewScript(src)
	return func() { soldOutScript = old }
}
