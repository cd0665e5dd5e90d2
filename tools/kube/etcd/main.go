// Command etcd is the upstream etcd server, built from the published
// go.etcd.io/etcd/server/v3 module at the version pinned in go.mod.
// It mirrors go.etcd.io/etcd/server/v3/main.go. etcd has its own module
// because its dependency versions differ from those k8s.io/kubernetes pins.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
