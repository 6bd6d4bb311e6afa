wrk.path = "http://127.0.0.1:19000/gen/miss?size=1024&cc=no-store"
wrk.headers["Host"] = "127.0.0.1:19000"
