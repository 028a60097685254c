# tests/fuzz/seeds.sh — sourced by replay.sh and run.sh: the seed corpus of
# each harness (every file in the directory is one input).
declare -A seeds=(
	[fuzz_config]=tests/data/config/fuzz
	[fuzz_tar]=tests/data/image/seeds
	[fuzz_layerlog]=tests/data/image/seeds
	[fuzz_manifest]=tests/data/fuzz/manifest
	[fuzz_challenge]=tests/data/fuzz/challenge
	[fuzz_service]=tests/data/fuzz/service
	[fuzz_tar_sparse]=tests/data/fuzz/tar_sparse
	[fuzz_aws]=tests/data/fuzz/aws
	[fuzz_pkgdb]=tests/data/fuzz/pkgdb
	[fuzz_signature]=tests/data/fuzz/signature
	[fuzz_initdhcp]=tests/data/fuzz/initdhcp
	[fuzz_initjson]=tests/data/fuzz/initjson
	[fuzz_imgconfig]=tests/data/fuzz/imgconfig
	[fuzz_ociimport]=tests/data/fuzz/ociimport
	[fuzz_disk]=tests/data/fuzz/disk
	[fuzz_roundtrip]=tests/data/fuzz/roundtrip
	[fuzz_pvh]=tests/data/fuzz/pvh
	[fuzz_ovmf]=tests/data/fuzz/ovmf
	[fuzz_efivars]=tests/data/fuzz/efivars
	[fuzz_rawinitrd]=tests/data/fuzz/rawinitrd
	[fuzz_deflate]=tests/data/fuzz/deflate
)
