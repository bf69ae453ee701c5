// Package apply writes objects to a cluster in order: hook phases, sync waves and kind
// order, with server-side apply under one field manager, an inventory of what it owns and
// a prune that never touches anything else. It hands health and the caller a ChangeSet:
// one entry per object with the action taken and any error.
package apply
