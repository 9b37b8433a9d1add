package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// upgrader is the http.RoundTripper under coder/websocket's Dial: it sends
// the upgrade request on a fresh TCP connection and hands the connection
// back as the response body, without http.Transport's pool and its two
// goroutines per connection, which cost the generator as much CPU per
// connect as the server under test spends.
type upgrader struct {
	dialer *net.Dialer
}

func (u *upgrader) RoundTrip(req *http.Request) (*http.Response, error) {
	conn, err := u.dialer.DialContext(req.Context(), "tcp", req.URL.Host)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(req.Context(), func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	b := make([]byte, 0, 256)
	b = fmt.Appendf(b, "GET %s HTTP/1.1\r\nHost: %s\r\n", req.URL.RequestURI(), host)
	for k, vs := range req.Header {
		for _, v := range vs {
			b = fmt.Appendf(b, "%s: %s\r\n", k, v)
		}
	}
	b = append(b, "\r\n"...)
	if _, err := conn.Write(b); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 512)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body.Close()
		conn.Close()
		return resp, nil
	}
	resp.Body = &upgraded{Reader: br, Conn: conn}
	return resp, nil
}

// upgraded is the connection after a 101 response: reads drain what the
// response reader buffered first.
type upgraded struct {
	*bufio.Reader
	net.Conn
}

func (u *upgraded) Read(p []byte) (int, error) { return u.Reader.Read(p) }
