%% escript plugins-needed.erl PLUGINS_DIR ENABLED_PLUGINS_FILE
%% Prints the plugin directories the broker needs: rabbit, its prelaunch and the enabled plugins,
%% with all they depend on (from their .app files). If anything cannot be read (.ez archives, an
%% unexpected layout), it prints them all: never a broker that lacks a module.
main([Dir, EnabledFile]) ->
    Entries = filelib:wildcard(Dir ++ "/*"),
    Name = fun(Path) ->
        [N | _] = string:split(filename:basename(Path, ".ez"), "-", trailing), list_to_atom(N)
    end,
    Apps = maps:from_list([{Name(P), P} || P <- Entries, filelib:is_dir(P)]),
    try
        [] = [P || P <- Entries, filename:extension(P) =:= ".ez"],
        {ok, [Enabled]} = file:consult(EnabledFile),
        Deps = fun(App) ->
            AppFile = filename:join([maps:get(App, Apps), "ebin", atom_to_list(App) ++ ".app"]),
            {ok, [{application, App, Props}]} = file:consult(AppFile),
            lists:append([proplists:get_value(K, Props, [])
                          || K <- [applications, included_applications, optional_applications]])
        end,
        Walk = fun Walk([], Seen) -> Seen;
                   Walk([A | Rest], Seen) ->
                       case maps:is_key(A, Apps) andalso not lists:member(A, Seen) of
                           true -> Walk(Deps(A) ++ Rest, [A | Seen]);
                           false -> Walk(Rest, Seen)
                       end
               end,
        [io:format("~s~n", [maps:get(A, Apps)]) || A <- Walk([rabbit, rabbitmq_prelaunch | Enabled], [])]
    catch _:_ ->
        [io:format("~s~n", [P]) || P <- Entries, filename:basename(P) =/= "README"]
    end.
