using EdgeCache.PurgeApi;

// `hash-key <key>` prints the SHA-256 to put in PurgeApi:Keys (the API stores only hashes).
if (args is ["hash-key", var key])
{
    Console.WriteLine(ApiKeys.Hash(key));
    return;
}

PurgeApiHost.Build(args).Run();
