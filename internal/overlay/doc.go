// Package overlay builds what LAVA calls the overlay: the directory tree a
// test job puts on the device so that its test shell can run. It holds
// the lava-test-shell helper scripts (embedded, POSIX sh), writes the
// environment and secrets files, fetches test definitions (git clone,
// inline, tar archives) and turns them into install.sh and run.sh in
// LAVA's layout, packs the tree as a tarball and builds the ext2 disk
// image a QEMU guest mounts.
//
// It knows nothing of pipelines or actions: internal/actions/deploy
// decides where things go and calls in here. Errors carry LAVA's classes
// (pipeline.JobError and friends) because only this package can tell a
// bad test definition from a broken host.
package overlay
