using System.Net.Security;
using System.Security.Authentication;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeCache.Proxy.Tls;

/// <summary>
/// The certificates of the https traffic endpoints: their one owner. Loads them at start-up, picks one
/// per TLS handshake by the client's server name (SNI), and reloads a certificate when its files
/// change (a file-system watch, and a poll every <see cref="ListenSettings.CertificatePollInterval"/>
/// for changes the watch misses). A reload builds the new certificate beside the old one and swaps the
/// whole set at once; changed files that do not make a usable certificate (unreadable, a key that does
/// not match, expired) are refused and logged, and the certificate in force stays. Connections keep the
/// certificate their handshake picked.
/// </summary>
/// <remarks>Certificate lifetimes are wall-clock facts (clients check them against their own clocks), so
/// this reads <see cref="TimeProvider.System"/>, not the cache clock.</remarks>
internal sealed class ServerCertificates : IHostedService, IDisposable
{
    /// <summary>Renewal tools write a certificate and its key one after the other: a change is read once the
    /// files have been quiet this long, so the pair is seen together.</summary>
    private static readonly TimeSpan SettleDelay = TimeSpan.FromMilliseconds(250);

    private readonly ILogger _logger;
    private readonly TimeProvider _time = TimeProvider.System;
    private readonly ListenSettings _listen;
    private readonly Slot[] _slots;
    private readonly object _reloadGate = new();
    private readonly List<FileSystemWatcher> _watchers = [];
    private volatile Snapshot _current;
    private ITimer? _poll;
    private ITimer? _settle;
    private long _refusedHandshakes;
    private int _reloads;
    private int _refusedReloads;

    public ServerCertificates(IOptions<EdgeCacheOptions> options, ILogger<ServerCertificates> logger)
    {
        _logger = logger;
        _listen = options.Value.Listen;
        var sources = CertificateSource.From(_listen);
        _slots = new Slot[sources.Count];
        var now = _time.GetUtcNow();
        for (var i = 0; i < sources.Count; i++)
        {
            // Start-up validation (EdgeCacheOptionsValidator) has loaded these already; a file that broke
            // in between stops the node here, with the same message.
            _slots[i] = new Slot(sources[i], CertificateFiles.Load(sources[i], now));
        }

        _current = Snapshot.Build(_slots, _listen.UnknownSni);
    }

    /// <summary>True when any certificate is configured.</summary>
    public bool Configured => _slots.Length > 0;

    /// <summary>Certificate reloads applied since start.</summary>
    public int Reloads => Volatile.Read(ref _reloads);

    /// <summary>Changed certificate files refused since start (the certificate in force stayed).</summary>
    public int RefusedReloads => Volatile.Read(ref _refusedReloads);

    /// <summary>Handshakes refused because no certificate fits the name asked for (or none was asked for and there is no default).</summary>
    public long RefusedHandshakes => Interlocked.Read(ref _refusedHandshakes);

    /// <summary>The certificates in force, in configuration order.</summary>
    public IReadOnlyList<LoadedCertificate> Current => _current.All;

    /// <summary>Why the last change to each certificate's files was refused (null if it was not), by slot.</summary>
    public IReadOnlyList<(CertificateSource Source, LoadedCertificate InForce, string? LastRefusal)> Slots =>
        [.. _slots.Select(s => (s.Source, s.InForce, s.LastRefusal))];

    /// <summary>Kestrel's per-connection TLS options callback for an https traffic endpoint.</summary>
    public TlsHandshakeCallbackOptions HandshakeOptions() => new() { OnConnection = OnConnection };

    private ValueTask<SslServerAuthenticationOptions> OnConnection(TlsHandshakeCallbackContext context)
    {
        var name = context.ClientHelloInfo.ServerName;
        var certificate = _current.Select(name);
        if (certificate is null)
        {
            Interlocked.Increment(ref _refusedHandshakes);
            Log.HandshakeRefused(_logger, string.IsNullOrEmpty(name) ? "(none)" : name);
            throw new AuthenticationException(string.IsNullOrEmpty(name)
                ? "The client sent no server name (SNI) and no certificate is marked as the default."
                : "No certificate covers the server name the client asked for.");
        }

        // Read per request to refuse misdirected ones (421): the names of this connection's certificate.
        context.Connection.Features.Set(certificate.Names);
        return ValueTask.FromResult(certificate.ServerOptions);
    }

    /// <summary>The certificate a client asking for <paramref name="serverName"/> gets; null when the handshake is refused.</summary>
    internal LoadedCertificate? Select(string? serverName) => _current.Select(serverName);

    /// <summary>The configured hosts (no wildcard routes left out) that no certificate covers.</summary>
    public IReadOnlyList<string> Uncovered(IEnumerable<string> hosts)
    {
        var current = _current;
        var uncovered = new List<string>();
        foreach (var host in hosts.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (!current.All.Any(c => c.Names.Covers(host) || c.Names.Names.Contains(host.ToLowerInvariant()))) uncovered.Add(host);
        }

        return uncovered;
    }

    /// <summary>The hosts this node is configured to serve: its routes' hosts (without port) and the per-host settings' names.</summary>
    public static IEnumerable<string> ConfiguredHosts(Yarp.ReverseProxy.IProxyStateLookup proxy, EdgeCacheOptions options)
    {
        foreach (var route in proxy.GetRoutes())
        {
            foreach (var host in route.Config.Match.Hosts ?? [])
            {
                if (string.IsNullOrEmpty(host)) continue;
                var colon = host.LastIndexOf(':');
                yield return colon > 0 && host.IndexOf(']', StringComparison.Ordinal) < colon ? host[..colon] : host;
            }
        }

        foreach (var host in options.Hosts.Keys) yield return host;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_slots.Length == 0) return Task.CompletedTask;
        foreach (var c in _current.All) Log.CertificateInForce(_logger, c.Source.Setting, string.Join(", ", c.Names.Names), c.NotAfter, c.Certificate.Thumbprint);
        _settle = _time.CreateTimer(_ => CheckForChanges(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _poll = _time.CreateTimer(_ => CheckForChanges(), null, _listen.CertificatePollInterval, _listen.CertificatePollInterval);
        foreach (var directory in _slots.SelectMany(s => s.Source.Files).Select(f => Path.GetDirectoryName(Path.GetFullPath(f))!).Distinct(StringComparer.Ordinal))
        {
            try
            {
                var watcher = new FileSystemWatcher(directory)
                {
                    NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
                    IncludeSubdirectories = false,
                };
                watcher.Changed += OnFileEvent;
                watcher.Created += OnFileEvent;
                watcher.Renamed += OnFileEvent;
                watcher.Deleted += OnFileEvent;
                watcher.EnableRaisingEvents = true;
                _watchers.Add(watcher);
            }
            catch (Exception ex) when (ex is IOException or ArgumentException or PlatformNotSupportedException or UnauthorizedAccessException)
            {
                // Out of inotify watches, say: the poll still sees every change, only later.
                Log.CertificateWatchUnavailable(_logger, directory, ex.Message);
            }
        }

        return Task.CompletedTask;
    }

    private void OnFileEvent(object sender, FileSystemEventArgs e) => _settle?.Change(SettleDelay, Timeout.InfiniteTimeSpan);

    /// <summary>Reads every certificate's files and reloads those whose contents changed; the whole set is swapped at once.</summary>
    internal void CheckForChanges()
    {
        lock (_reloadGate)
        {
            var changed = false;
            var now = _time.GetUtcNow();
            foreach (var slot in _slots)
            {
                CertificateFiles.Contents contents;
                try
                {
                    contents = CertificateFiles.Read(slot.Source);
                }
                catch (CertificateFiles.LoadException ex)
                {
                    Refuse(slot, "missing:" + ex.Message, ex.Message);
                    continue;
                }

                if (contents.Hash == slot.InForce.ContentHash)
                {
                    // Back to what is in force (a broken write undone): nothing to reload, nothing refused.
                    slot.RefusedHash = null;
                    slot.LastRefusal = null;
                    continue;
                }

                if (contents.Hash == slot.RefusedHash) continue; // refused already, and logged once
                try
                {
                    // The replaced certificate is not disposed: connections set up with it still use its key.
                    slot.InForce = CertificateFiles.Load(slot.Source, contents, now);
                    slot.RefusedHash = null;
                    slot.LastRefusal = null;
                    changed = true;
                    Interlocked.Increment(ref _reloads);
                    var c = slot.InForce;
                    Log.CertificateReloaded(_logger, c.Source.Setting, c.Source.Path, string.Join(", ", c.Names.Names), c.NotAfter, c.Certificate.Thumbprint);
                }
                catch (CertificateFiles.LoadException ex)
                {
                    Refuse(slot, contents.Hash, ex.Message);
                }
            }

            if (changed) _current = Snapshot.Build(_slots, _listen.UnknownSni);
        }
    }

    private void Refuse(Slot slot, string hash, string reason)
    {
        if (slot.RefusedHash == hash) return;
        slot.RefusedHash = hash;
        slot.LastRefusal = reason;
        Interlocked.Increment(ref _refusedReloads);
        Log.CertificateRefused(_logger, slot.Source.Setting, reason);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        foreach (var w in _watchers) w.Dispose();
        _watchers.Clear();
        _poll?.Dispose();
        _settle?.Dispose();
    }

    /// <summary>One configured certificate: the one in force, and the last refused change to its files.
    /// Written under the reload lock only.</summary>
    private sealed class Slot(CertificateSource source, LoadedCertificate inForce)
    {
        public CertificateSource Source { get; } = source;

        public LoadedCertificate InForce { get; set; } = inForce;

        public string? RefusedHash { get; set; }

        public string? LastRefusal { get; set; }
    }

    /// <summary>The certificate set in force: handshakes read it, reloads replace it whole.</summary>
    private sealed class Snapshot
    {
        private readonly Dictionary<string, LoadedCertificate> _exact = new(StringComparer.OrdinalIgnoreCase);
        private readonly Dictionary<string, LoadedCertificate> _wildcardParents = new(StringComparer.OrdinalIgnoreCase);
        private readonly LoadedCertificate? _default;
        private readonly UnknownSniMode _unknown;

        private Snapshot(LoadedCertificate[] all, UnknownSniMode unknown)
        {
            All = all;
            _unknown = unknown;
            foreach (var c in all)
            {
                // An exact name beats a wildcard; between two certificates with the same name, the first configured wins.
                foreach (var name in c.Names.Names)
                {
                    if (TlsConnectionNames.WildcardParent(name) is { } parent) _wildcardParents.TryAdd(parent, c);
                    else if (!name.Contains('*', StringComparison.Ordinal)) _exact.TryAdd(name, c);
                }

                if (c.Source.IsDefault) _default ??= c;
            }
        }

        public LoadedCertificate[] All { get; }

        public static Snapshot Build(Slot[] slots, UnknownSniMode unknown) => new([.. slots.Select(s => s.InForce)], unknown);

        public LoadedCertificate? Select(string? serverName)
        {
            if (string.IsNullOrEmpty(serverName)) return _default;
            var name = serverName.TrimEnd('.');
            if (_exact.TryGetValue(name, out var exact)) return exact;
            var dot = name.IndexOf('.', StringComparison.Ordinal);
            if (dot > 0 && dot < name.Length - 1 && _wildcardParents.TryGetValue(name[(dot + 1)..], out var wildcard)) return wildcard;
            return _unknown == UnknownSniMode.Default ? _default : null;
        }
    }
}
