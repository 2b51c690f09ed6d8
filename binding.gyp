{
  "targets": [
    {
      "target_name": "rsclip_int8",
      "sources": ["native/int8_cosines.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"]
    }
  ]
}
