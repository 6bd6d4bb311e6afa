wrk.path = "http://127.0.0.1:19000/gen/hit?size=1024&cc=max-age%3D3600"
wrk.headers["Host"] = "127.0.0.1:19000"
