using System.Diagnostics;
using System.Reflection;
using EdgeCache.Engine;
using EdgeCache.Storage.Tests.Child;
using Xunit.Abstractions;

namespace EdgeCache.Storage.Tests;

/// <summary>
/// A node killed with SIGKILL serves what its last checkpoint held: a child process writes, checkpoints,
/// writes more, and is killed; the store reopened here has every object of the checkpoint byte for
/// byte, and of what came after, each object is either absent or exact, never corrupt.
/// </summary>
public sealed class CrashRecoveryTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly string _dir = Stores.TempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("checkpointed")] // killed while it writes after the checkpoint
    [InlineData("written")] // killed once everything after the checkpoint is written (and partly flushed)
    public async Task After_SIGKILL_the_store_serves_what_the_last_checkpoint_held(string killAfter)
    {
        using (var child = StartChild(_dir))
        {
            var lines = new List<string>();
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            child.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (lines) lines.Add(e.Data);
                if (e.Data == killAfter) reached.TrySetResult();
            };
            child.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null) lock (lines) lines.Add("stderr: " + e.Data);
            };
            child.BeginOutputReadLine();
            child.BeginErrorReadLine();
            var exited = child.WaitForExitAsync();
            if (await Task.WhenAny(reached.Task, exited).WaitAsync(Deadline) != reached.Task)
            {
                lock (lines) Assert.Fail($"the child exited with {child.ExitCode} before printing \"{killAfter}\": {string.Join(" | ", lines)}");
            }

            child.Kill(); // SIGKILL on Unix: no dispose, no final checkpoint
            await exited.WaitAsync(Deadline);
            Assert.Equal(128 + 9, child.ExitCode);
            lock (lines) output.WriteLine($"child printed [{string.Join(", ", lines)}] and was killed");
        }

        await using var store = Stores.Open(Workload.Options(_dir));
        Assert.Equal(DiskOpenedAs.Recovered, store.OpenedAs);

        int rewrittenAsOld = 0, rewrittenAsNew = 0, afterPresent = 0;
        for (var i = 0; i < Workload.Before; i++)
        {
            var got = await Stores.GetBytes(store, Workload.Key(i));
            Assert.NotNull(got);
            if (i >= Workload.Rewritten)
            {
                Assert.Equal(Workload.Body(i), got);
            }
            else if (got.AsSpan().SequenceEqual(Workload.Body(i)))
            {
                rewrittenAsOld++;
            }
            else
            {
                // Rewritten after the checkpoint: the old body or the new one, nothing in between.
                Assert.Equal(Workload.Body(i, version: 2), got);
                rewrittenAsNew++;
            }
        }

        for (var i = Workload.Before; i < Workload.Before + Workload.After; i++)
        {
            var got = await Stores.GetBytes(store, Workload.Key(i));
            if (got is null) continue;
            Assert.Equal(Workload.Body(i), got);
            afterPresent++;
        }

        output.WriteLine($"after recovery: {Workload.Before} of {Workload.Before} checkpointed objects exact " +
            $"({rewrittenAsOld} rewritten ones as before the checkpoint, {rewrittenAsNew} as after); " +
            $"{afterPresent} of {Workload.After} later objects present and exact");
        Assert.True(store.Healthy);
        Assert.Equal(0, store.Failures);

        // The recovered store takes writes and keeps them across a graceful restart.
        var fresh = Stores.Bytes(200_000, seed: 99);
        await store.PutAsync("http://child.example/after-recovery", Stores.Response(fresh), CancellationToken.None);
        Assert.Equal(fresh, await Stores.GetBytes(store, "http://child.example/after-recovery"));
    }

    private static Process StartChild(string dir)
    {
        var dll = typeof(CrashRecoveryTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "ChildDll").Value;
        Assert.True(File.Exists(dll), $"the child process is not built at {dll}");
        var info = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true, // held open: the child exits if the test process dies
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll!);
        info.ArgumentList.Add(dir);
        return Process.Start(info) ?? throw new InvalidOperationException("The child process did not start.");
    }

    /// <summary>The dotnet host running these tests (testhost runs under it), else the SDK's, else PATH's.</summary>
    private static string DotnetHost()
    {
        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }
}
