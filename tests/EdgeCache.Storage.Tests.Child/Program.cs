// Usage: EdgeCache.Storage.Tests.Child <directory>
// Writes Workload.Before objects, checkpoints, prints "checkpointed", writes Workload.After new
// objects and rewrites Workload.Rewritten old ones, prints "written", then waits to be killed
// (or for its standard input to close, so it never outlives the test).
using EdgeCache.Engine;
using EdgeCache.Storage;
using EdgeCache.Storage.Tests.Child;
using Microsoft.Extensions.Logging.Abstractions;

if (args.Length != 1)
{
    await Console.Error.WriteLineAsync("usage: EdgeCache.Storage.Tests.Child <directory>");
    return 2;
}

var store = DiskStore.Open(Workload.Options(args[0]), NullLogger.Instance, HeuristicOptions.Default);
for (var i = 0; i < Workload.Before; i++)
{
    await store.PutAsync(Workload.Key(i), Workload.Response(Workload.Body(i)), CancellationToken.None);
}

if (!await store.CheckpointAsync())
{
    await Console.Error.WriteLineAsync("the checkpoint failed");
    return 1;
}

Console.WriteLine("checkpointed");
for (var i = Workload.Before; i < Workload.Before + Workload.After; i++)
{
    await store.PutAsync(Workload.Key(i), Workload.Response(Workload.Body(i)), CancellationToken.None);
    if (i - Workload.Before < Workload.Rewritten)
    {
        var old = i - Workload.Before;
        await store.PutAsync(Workload.Key(old), Workload.Response(Workload.Body(old, version: 2)), CancellationToken.None);
    }
}

Console.WriteLine("written");
await Console.In.ReadToEndAsync();
return 0;
