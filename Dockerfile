# Role images built FROM scratch out of statically linked binaries: no registry and no base image needed.
# `scripts/build-images.sh` compiles the binaries and lays out dist/ (binaries plus Debian's busybox-static for
# /bin/sh, which command tasks and container health checks need), then builds both targets:
#
#   docker build --target mesos    -t mesos-rs/mesos:latest .
#   docker build --target marathon -t mesos-rs/marathon:latest .

FROM scratch AS mesos
COPY dist/rootfs/ /
COPY dist/mesos/ /
ENV PATH=/usr/sbin:/usr/bin:/bin
LABEL org.opencontainers.image.title="mesos-rs/mesos" \
      org.opencontainers.image.description="Mesos master and agent (mesos-master, mesos-agent, mesos-slave)" \
      org.opencontainers.image.licenses="Apache-2.0"
EXPOSE 5050 5051
ENTRYPOINT ["/usr/sbin/mesos-master"]

# Marathon keeps its state in ZooKeeper and needs no privilege: it runs as nobody (65534). The one directory it
# may write besides /tmp is its log directory (`--log_dir /var/log/marathon`, or MARATHON_LOG_DIR), owned by it.
FROM scratch AS marathon
COPY dist/rootfs/ /
COPY dist/marathon/ /
RUN mkdir -p /var/log/marathon && busybox chown 65534:65534 /var/log/marathon
ENV PATH=/usr/sbin:/usr/bin:/bin
USER 65534:65534
LABEL org.opencontainers.image.title="mesos-rs/marathon" \
      org.opencontainers.image.description="Marathon framework (REST API v2 on :8080)" \
      org.opencontainers.image.licenses="Apache-2.0"
EXPOSE 8080
ENTRYPOINT ["/usr/sbin/marathon"]
