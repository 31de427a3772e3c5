#!/usr/bin/env escript
%% certlab's Erlang/OTP ssl client peer: ssl:connect with verify_peer and, as OTP 25's ssl
%% documentation shows for several certificates, certs_keys (ssl chooses among them by the
%% server's CertificateRequest). It sends an HTTP request and prints the answer; a TLS error is
%% printed and exits 1.
%% Arguments: PORT CA VERSION [CERT KEY]...
main([Port, Ca, Version | Pairs]) ->
    {ok, _} = application:ensure_all_started(ssl),
    Certs = pairs(Pairs),
    Own = case Certs of [] -> []; _ -> [{certs_keys, Certs}] end,
    Opts = [{cacertfile, Ca}, {verify, verify_peer}, {server_name_indication, "localhost"},
            {versions, [list_to_atom("tlsv" ++ Version)]}, {active, false} | Own],
    case ssl:connect({127, 0, 0, 1}, list_to_integer(Port), Opts, 8000) of
        {ok, Tls} ->
            ok = ssl:send(Tls, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"),
            read(Tls, []);
        {error, Reason} ->
            io:format(standard_error, "handshake failed: ~p~n", [Reason]),
            halt(1)
    end.

pairs([Cert, Key | Rest]) -> [#{certfile => Cert, keyfile => Key} | pairs(Rest)];
pairs([]) -> [].

read(Tls, Acc) ->
    case ssl:recv(Tls, 0, 8000) of
        {ok, Data} -> read(Tls, [Acc, Data]);
        {error, closed} when Acc =/= [] -> io:put_chars(Acc), halt(0);
        {error, Reason} -> io:format(standard_error, "read failed: ~p~n", [Reason]), halt(1)
    end.
