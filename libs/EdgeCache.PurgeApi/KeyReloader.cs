using EdgeCache.Engine;
using EdgeCache.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.PurgeApi;

/// <summary>
/// Puts purge keys in force when the configuration changes, without a restart (rotate a key: add the
/// new one, move publishers over, remove the old one). The new <c>PurgeApi</c> section is validated as
/// at start-up; an invalid one is refused and logged, and the keys in force stay. Only key ids are
/// logged, never keys or their hashes.
/// </summary>
public sealed class KeyReloader(IConfiguration configuration, ApiKeys keys, ILogger<KeyReloader> logger) : IHostedService, IDisposable
{
    private ConfigurationWatch? _watch;
    private int _refused;

    /// <summary>Changes refused since start (invalid settings, or a file that could not be read).</summary>
    public int Refused => Volatile.Read(ref _refused);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _watch = new ConfigurationWatch(configuration, Reload, Refuse);
        return Task.CompletedTask;
    }

    private void Refuse(string why)
    {
        Interlocked.Increment(ref _refused);
        Log.KeysRefused(logger, why);
    }

    private void Reload()
    {
        var fresh = new PurgeApiOptions();
        try
        {
            configuration.GetSection(PurgeApiOptions.SectionName).Bind(fresh);
        }
        catch (InvalidOperationException ex)
        {
            Refuse(ex.Message);
            return;
        }

        var errors = fresh.Validate().ToList();
        if (errors.Count > 0)
        {
            Refuse(string.Join(" ", errors));
            return;
        }

        var before = keys.Ids;
        keys.Replace(fresh.Keys);
        var after = keys.Ids;
        if (!before.SequenceEqual(after)) Log.KeysReloaded(logger, string.Join(", ", after));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _watch?.Dispose();
}
