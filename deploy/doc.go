// Package deploy holds the container deployment of the CDN: the Dockerfile,
// docker-compose.yml for the three-region topology of the simulation, its
// cluster file and endpoints files. The package's only Go code is the test
// that checks the compose file against the cluster file, since no Docker
// engine runs in CI.
package deploy
