package edge

import (
	"net/http"

	"github.com/selfcdn/cdn/origin"
)

func newOriginHandler() (http.Handler, error) { return origin.New(origin.Config{}) }
