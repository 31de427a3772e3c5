#!/usr/bin/env escript
%% certlab's Erlang/OTP ssl server peer, configured as the ssl documentation shows client
%% authentication: verify_peer with fail_if_no_peer_cert (required) or without (optional),
%% cacertfile, and crl_check with the CRL put in ssl_crl_cache (required-crl). It answers an HTTP
%% request with whether it holds a peer certificate.
%% Arguments: PORT CERT KEY CA MODE VERSION [CRL]
main([Port, Cert, Key, Ca, Mode, Version | Crl]) ->
    {ok, _} = application:ensure_all_started(ssl),
    Verify = case Mode of
                 "none" -> [{verify, verify_none}];
                 "optional" -> [{verify, verify_peer}, {fail_if_no_peer_cert, false}];
                 _ -> [{verify, verify_peer}, {fail_if_no_peer_cert, true}]
             end,
    Revocation = case Crl of
                     [Path] ->
                         ok = ssl_crl_cache:insert({file, Path}),
                         [{crl_check, peer}, {crl_cache, {ssl_crl_cache, {internal, []}}}];
                     [] -> []
                 end,
    Vsn = list_to_atom("tlsv" ++ Version),
    Opts = [{certfile, Cert}, {keyfile, Key}, {cacertfile, Ca}, {versions, [Vsn]}, {reuseaddr, true},
            {ip, {127, 0, 0, 1}}, {active, false}, {depth, 4} | Verify ++ Revocation],
    {ok, Listen} = ssl:listen(list_to_integer(Port), Opts),
    io:format(standard_error, "listening on 127.0.0.1:~s~n", [Port]),
    accept(Listen).

accept(Listen) ->
    {ok, Socket} = ssl:transport_accept(Listen),
    spawn(fun() -> serve(Socket) end),
    accept(Listen).

serve(Socket) ->
    case ssl:handshake(Socket, 10000) of
        {ok, Tls} ->
            _ = ssl:recv(Tls, 0, 10000),
            Peer = case ssl:peercert(Tls) of {ok, _} -> "yes"; _ -> "no" end,
            ssl:send(Tls, ["HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npeer certificate: ", Peer, "\n"]),
            ssl:close(Tls);
        {error, Reason} ->
            io:format(standard_error, "handshake failed: ~p~n", [Reason])
    end.
