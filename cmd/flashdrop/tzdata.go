package main

// Series are scheduled in IANA time zones. The zone database is embedded
// (about 450 KB) so that a node in a container without /usr/share/zoneinfo
// still knows every zone; a host's own database, when present, is used
// first, so keep nodes on one image to keep them agreeing on zone rules.
import _ "time/tzdata"
