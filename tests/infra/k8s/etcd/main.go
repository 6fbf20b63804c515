// Command etcd is a single-member etcd 3.6 server over the embed package, for the test API server:
// Debian's etcd 3.4 is too old for a 1.37 API server (its watches fail with "Too large resource
// version"), and the full etcd command brings a second module tree for a handful of flags.
package main

import (
	"flag"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	dataDir := flag.String("data-dir", "", "folder for the member's data")
	clientURL := flag.String("client-url", "https://127.0.0.1:16379", "URL the API server connects to")
	peerURL := flag.String("peer-url", "http://127.0.0.1:16380", "URL of the (only) member's peer port")
	cert := flag.String("cert-file", "", "server certificate for the client URL")
	key := flag.String("key-file", "", "key of the server certificate")
	ca := flag.String("trusted-ca-file", "", "CA that signs the clients' certificates")
	flag.Parse()

	cfg := embed.NewConfig()
	cfg.Name = "jobdeck"
	cfg.Dir = *dataDir
	cfg.LogLevel = "warn"
	client, err := url.Parse(*clientURL)
	if err != nil {
		log.Fatalf("client-url: %v", err)
	}
	peer, err := url.Parse(*peerURL)
	if err != nil {
		log.Fatalf("peer-url: %v", err)
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ClientTLSInfo.CertFile, cfg.ClientTLSInfo.KeyFile = *cert, *key
	cfg.ClientTLSInfo.TrustedCAFile, cfg.ClientTLSInfo.ClientCertAuth = *ca, *ca != ""

	server, err := embed.StartEtcd(cfg)
	if err != nil {
		log.Fatalf("start: %v", err)
	}
	select {
	case <-server.Server.ReadyNotify():
		log.Printf("etcd ready on %s", client)
	case <-time.After(60 * time.Second):
		server.Close()
		log.Fatal("etcd not ready after 60s")
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-server.Err():
		log.Fatalf("etcd: %v", err)
	case <-stop:
		server.Close()
	}
}
