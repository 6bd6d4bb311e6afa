package geodns

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On Linux each UDP socket gets a rawReader: recvmmsg and sendmmsg called
// directly, over message headers, iovecs and address buffers built once
// and reused for every batch, so a batch costs no packing, no address
// parsing and no allocation. The calls are raw system calls on the
// non-blocking socket: they never block, so the goroutine keeps its P
// and the scheduler is not involved while queries keep coming (a
// blocking system call that lasts over a sysmon tick, as a sendmmsg of a
// full batch can, makes sysmon hand the P to another thread, and a
// blocking read on an idle socket does so every time). Only a socket
// found empty, or a send buffer found full, is waited for through the
// netpoller. A reader that cannot be set up falls back to batchReader.

func (s *Server) newUDPReader(pc net.PacketConn) udpReader {
	if !s.portableUDP {
		r, err := newRawReader(s, pc)
		if err == nil {
			return r
		}
		s.log.Warn("UDP listener: using the portable reader", "addr", pc.LocalAddr(), "err", err)
	}
	return newBatchReader(s, pc)
}

type rawReader struct {
	s       *Server
	pc      net.PacketConn
	rc      syscall.RawConn
	stopped atomic.Bool

	in     []unix.Mmsghdr
	out    []unix.Mmsghdr
	inIov  []unix.Iovec
	outIov []unix.Iovec
	names  []unix.RawSockaddrInet6 // source addresses; large enough for either family
	bufs   []byte                  // udpBatch × maxUDPRequest
	scs    []*scratch

	// The closures given to the RawConn, made once, and their state.
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
	n       int        // datagrams read
	errno   unix.Errno // of the read
	k, sent int        // responses to send, responses sent
}

func newRawReader(s *Server, pc net.PacketConn) (*rawReader, error) {
	uc, ok := pc.(*net.UDPConn)
	if !ok {
		return nil, errors.New("not a *net.UDPConn")
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &rawReader{
		s:      s,
		pc:     pc,
		rc:     rc,
		in:     make([]unix.Mmsghdr, udpBatch),
		out:    make([]unix.Mmsghdr, udpBatch),
		inIov:  make([]unix.Iovec, udpBatch),
		outIov: make([]unix.Iovec, udpBatch),
		names:  make([]unix.RawSockaddrInet6, udpBatch),
		bufs:   make([]byte, udpBatch*maxUDPRequest),
		scs:    make([]*scratch, udpBatch),
	}
	for i := range udpBatch {
		r.inIov[i].Base = &r.bufs[i*maxUDPRequest]
		r.inIov[i].SetLen(maxUDPRequest)
		h := &r.in[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.inIov[i]
		h.SetIovlen(1)
		o := &r.out[i].Hdr
		o.Iov = &r.outIov[i]
		o.SetIovlen(1)
		r.scs[i] = newScratch()
	}
	r.readFn = r.recv
	r.writeFn = r.send
	return r, nil
}

func (r *rawReader) stop() {
	r.stopped.Store(true)
	_ = r.pc.SetReadDeadline(time.Now())
}

func (r *rawReader) close() { r.pc.Close() }

// serve reads batches of queries, answers each into its own scratch, and
// sends the answers back to their sources in one sendmmsg, until stop
// and the read deadline it sets wake it.
func (r *rawReader) serve() {
	for {
		for i := range r.in {
			r.in[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		}
		err := r.rc.Read(r.readFn)
		if err == nil && r.errno != 0 {
			err = r.errno
		}
		if err != nil {
			if r.stopped.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			r.s.log.Warn("read UDP queries", "err", err)
			continue
		}
		r.answer(r.n)
	}
}

// recv is one recvmmsg for RawConn.Read; false asks it to wait until the
// socket is readable.
func (r *rawReader) recv(fd uintptr) bool {
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.in[0])),
		uintptr(len(r.in)), unix.MSG_DONTWAIT, 0, 0)
	if errno == unix.EAGAIN {
		return false
	}
	r.n, r.errno = 0, errno
	if errno == 0 {
		r.n = int(n)
	}
	return true
}

// send is sendmmsg for RawConn.Write until responses k are all sent or
// skipped; false asks it to wait until the socket is writable.
func (r *rawReader) send(fd uintptr) bool {
	for r.sent < r.k {
		w, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&r.out[r.sent])),
			uintptr(r.k-r.sent), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			r.sent += int(w)
		case unix.EAGAIN:
			return false
		case unix.EINTR:
		default:
			// One unreachable client must not cost the rest of the
			// batch its answers: skip the failing datagram.
			r.s.log.Debug("write UDP responses", "client", r.destination(r.sent), "err", errno)
			r.sent++
		}
	}
	return true
}

// client is the source address of datagram i, or false if it has none.
func (r *rawReader) client(i int) (netip.Addr, bool) {
	sa := &r.names[i]
	l := r.in[i].Hdr.Namelen
	switch {
	case sa.Family == unix.AF_INET && l >= unix.SizeofSockaddrInet4:
		return netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(sa)).Addr), true
	case sa.Family == unix.AF_INET6 && l >= unix.SizeofSockaddrInet6:
		return netip.AddrFrom16(sa.Addr).Unmap(), true
	}
	return netip.Addr{}, false
}

// answer answers the n datagrams read and sends the responses.
func (r *rawReader) answer(n int) {
	k := 0
	for i := range n {
		client, ok := r.client(i)
		if !ok {
			continue
		}
		sc := r.scs[i]
		sc.reset()
		off := i * maxUDPRequest
		resp := r.s.respond(r.bufs[off:off+int(r.in[i].Len)], client, false, sc)
		if len(resp) == 0 {
			continue
		}
		r.outIov[k].Base = &resp[0]
		r.outIov[k].SetLen(len(resp))
		o := &r.out[k].Hdr
		o.Name = r.in[i].Hdr.Name
		o.Namelen = r.in[i].Hdr.Namelen
		k++
	}
	if k > 0 {
		r.k, r.sent = k, 0
		if err := r.rc.Write(r.writeFn); err != nil {
			r.s.log.Debug("write UDP responses", "err", err)
		}
	}
	for i := range k {
		r.outIov[i].Base = nil
		r.out[i].Hdr.Name = nil
	}
}

// destination is where response k goes, for logs.
func (r *rawReader) destination(k int) netip.AddrPort {
	sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(r.out[k].Hdr.Name))
	pb := (*[2]byte)(unsafe.Pointer(&sa.Port)) // network byte order
	p := uint16(pb[0])<<8 | uint16(pb[1])
	if sa.Family == unix.AF_INET {
		return netip.AddrPortFrom(netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(sa)).Addr), p)
	}
	return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), p)
}
