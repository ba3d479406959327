package engine

// LocalTokenAt is LocalToken with the token file at path.
var LocalTokenAt = localTokenAt
