using Microsoft.Extensions.Options;

namespace EdgeCache.Proxy;

/// <summary>Validates <see cref="EdgeCacheOptions"/> at start-up; each failure names the setting.</summary>
public sealed class EdgeCacheOptionsValidator : IValidateOptions<EdgeCacheOptions>
{
    /// <summary>Load every configured certificate (a readable file, a key that matches, not expired). True at
    /// start-up; a configuration reload leaves it to the certificates' own reload, so a renewal in progress
    /// does not hold up unrelated settings.</summary>
    public bool CheckCertificateFiles { get; init; } = true;

    public ValidateOptionsResult Validate(string? name, EdgeCacheOptions o)
    {
        var errors = new List<string>();
        const string S = EdgeCacheOptions.SectionName;
        if (string.IsNullOrWhiteSpace(o.NodeId) || o.NodeId.Any(c => char.IsWhiteSpace(c) || c == ','))
        {
            errors.Add($"{S}:NodeId must be a non-empty name without spaces or commas (got '{o.NodeId}').");
        }

        if (o.MemoryBudgetBytes <= 0) errors.Add($"{S}:MemoryBudgetBytes must be positive (got {o.MemoryBudgetBytes}).");
        if (o.MaxObjectBytes <= 0) errors.Add($"{S}:MaxObjectBytes must be positive (got {o.MaxObjectBytes}).");
        if (o.HeuristicFraction is < 0 or > 1) errors.Add($"{S}:HeuristicFraction must be between 0 and 1 (got {o.HeuristicFraction}).");
        if (o.HeuristicMaxAge < TimeSpan.Zero) errors.Add($"{S}:HeuristicMaxAge must not be negative.");
        if (o.ErrorStatusMaxAge <= TimeSpan.Zero) errors.Add($"{S}:ErrorStatusMaxAge must be positive (got {o.ErrorStatusMaxAge}).");
        if (o.EarlyHintsMaxUrls <= 0) errors.Add($"{S}:EarlyHintsMaxUrls must be positive (got {o.EarlyHintsMaxUrls}).");
        if (o.MetricsHostLimit < 0) errors.Add($"{S}:MetricsHostLimit must not be negative.");
        if (o.StatusSampleInterval <= TimeSpan.Zero) errors.Add($"{S}:StatusSampleInterval must be positive.");
        if (o.ShutdownTimeout < TimeSpan.Zero) errors.Add($"{S}:ShutdownTimeout must not be negative.");
        if (o.Defaults.Validate() is { } d) errors.Add($"{S}:Defaults: {d}.");

        // One default, not two that could disagree: hosts that Hosts does not name take the node-wide one.
        if (o.Defaults.StripCdnCacheControl is not null) errors.Add($"{S}:Defaults:StripCdnCacheControl is not a setting: {S}:StripCdnCacheControl is the default, {S}:Hosts:<host>:StripCdnCacheControl overrides it for a host.");
        foreach (var (host, policy) in o.Hosts)
        {
            if (policy.Validate() is { } p) errors.Add($"{S}:Hosts:{host}: {p}.");
        }

        if (o.TierSecrets.Length > 2) errors.Add($"{S}:TierSecrets holds at most two secrets (the current one and the one being rotated out); got {o.TierSecrets.Length}.");
        for (var i = 0; i < o.TierSecrets.Length; i++)
        {
            // The secret's value is never put in a message.
            var secret = o.TierSecrets[i] ?? "";
            if (secret.Length < 16 || secret.Any(c => c is <= ' ' or > '~')) errors.Add($"{S}:TierSecrets:{i} must be at least 16 visible ASCII characters, without spaces.");
        }

        if (o.Invalidation.Validate() is { } inv) errors.Add($"{S}:Invalidation: {inv}.");
        else if (o.Invalidation.Enabled && o.Invalidation.Lease + o.Invalidation.AnnounceInterval > o.Invalidation.MembershipTtl)
        {
            // A node cut off from NATS must stop trusting its store before its membership entry can
            // expire; otherwise a purge could complete without it while it still serves what was purged.
            errors.Add($"{S}:Invalidation: Lease ({o.Invalidation.Lease}) plus AnnounceInterval ({o.Invalidation.AnnounceInterval}) must not exceed MembershipTtl ({o.Invalidation.MembershipTtl}).");
        }
        if (o.ShieldDiscovery.Validate() is { } sd) errors.Add($"{S}:ShieldDiscovery: {sd}.");
        if (o.ShieldDiscovery.Enabled && o.Role != NodeRole.Edge && !(o.Replication.Enabled && string.Equals(o.ShieldDiscovery.Cluster, o.Replication.Cluster, StringComparison.OrdinalIgnoreCase)))
        {
            errors.Add($"{S}:ShieldDiscovery:Enabled applies to edges, and to shields only for their peers ({S}:ShieldDiscovery:Cluster naming {S}:Replication:Cluster with replication on).");
        }

        if (o.Replication.Validate() is { } rep) errors.Add($"{S}:Replication: {rep}.");
        else if (o.Replication.Enabled && o.Role != NodeRole.Shield) errors.Add($"{S}:Replication:Enabled applies to shields only (this node is an edge).");
        else if (o.Replication.Enabled && o.TierSecrets.Length == 0) errors.Add($"{S}:Replication:Enabled needs {S}:TierSecrets: shields prove to each other with one that a fill comes from a peer.");
        if (o.ShieldDiscovery.Enabled && !o.Invalidation.Enabled) errors.Add($"{S}:ShieldDiscovery:Enabled needs {S}:Invalidation:NatsUrl (membership lives in NATS).");
        foreach (var (setting, url) in new[] { ("AdvertiseTraffic", o.Listen.AdvertiseTraffic), ("AdvertiseAdmin", o.Listen.AdvertiseAdmin) })
        {
            if (url is not null && (!Uri.TryCreate(url, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https")))
            {
                errors.Add($"{S}:Listen:{setting} must be an http:// or https:// URL (got '{url}').");
            }
        }

        if (o.Disk.Validate() is { } disk) errors.Add($"{S}:Disk: {disk}.");
        if (o.ImageWorkers.Validate() is { } workers) errors.Add($"{S}:ImageWorkers: {workers}.");
        if (o.Recompress.Validate() is { } recompress) errors.Add($"{S}:Recompress: {recompress}.");
        if (o.Listen.MinHitDataRate < 0 || double.IsNaN(o.Listen.MinHitDataRate)) errors.Add($"{S}:Listen:MinHitDataRate must not be negative (0 leaves Kestrel's MinResponseDataRate).");
        if (o.Listen.MinHitDataRateGracePeriod <= TimeSpan.FromSeconds(1)) errors.Add($"{S}:Listen:MinHitDataRateGracePeriod must be more than 1 s (Kestrel checks data rates once a second).");
        if (o.Listen.ResponseBufferBytes < 0) errors.Add($"{S}:Listen:ResponseBufferBytes must not be negative.");
        if (o.Listen.Http2MaxStreams is < 1 or > 1000) errors.Add($"{S}:Listen:Http2MaxStreams must be 1-1000 (got {o.Listen.Http2MaxStreams}).");
        if (o.Listen.Http2MaxHeaderFieldBytes is < 4096 or > 1024 * 1024) errors.Add($"{S}:Listen:Http2MaxHeaderFieldBytes must be 4096-1048576 (got {o.Listen.Http2MaxHeaderFieldBytes}).");
        if (o.Listen.MaxRequestHeadersBytes is < 4096 or > 1024 * 1024) errors.Add($"{S}:Listen:MaxRequestHeadersBytes must be 4096-1048576 (got {o.Listen.MaxRequestHeadersBytes}).");
        if (o.Listen.MaxRequestHeaderCount is < 1 or > 10000) errors.Add($"{S}:Listen:MaxRequestHeaderCount must be 1-10000 (got {o.Listen.MaxRequestHeaderCount}).");
        if (o.Listen.Traffic.Length == 0) errors.Add($"{S}:Listen:Traffic must name at least one URL.");
        foreach (var url in o.Listen.Traffic.Concat(o.Listen.Http2Cleartext).Append(o.Listen.Admin).Where(u => !string.IsNullOrEmpty(u)))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                errors.Add($"{S}:Listen: '{url}' is not an http:// or https:// URL.");
            }
            else if (uri.Scheme == "https" && string.IsNullOrEmpty(o.Listen.CertificatePath) && o.Listen.Certificates.Length == 0)
            {
                errors.Add($"{S}:Listen:Certificates (or the single {S}:Listen:CertificatePath) is required for the https endpoint '{url}'.");
            }
        }

        ValidateCertificates(o.Listen, errors);

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private void ValidateCertificates(ListenSettings listen, List<string> errors)
    {
        if (listen.CertificatePollInterval <= TimeSpan.Zero) errors.Add($"{EdgeCacheOptions.SectionName}:Listen:CertificatePollInterval must be positive.");
        var sources = Tls.CertificateSource.From(listen);
        var defaults = sources.Where(s => s.IsDefault).Select(s => s.Setting).ToList();
        if (defaults.Count > 1) errors.Add($"{EdgeCacheOptions.SectionName}:Listen: at most one certificate may be the default (Default: true, or the single CertificatePath); {string.Join(" and ", defaults)} are.");
        var now = TimeProvider.System.GetUtcNow();
        foreach (var source in sources)
        {
            if (string.IsNullOrWhiteSpace(source.Path))
            {
                errors.Add($"{source.Setting}:Path is required (the PEM or PFX certificate file).");
                continue;
            }

            var missing = source.Files.FirstOrDefault(f => !File.Exists(f));
            if (missing is not null)
            {
                errors.Add($"{source.Setting}{(missing == source.Path ? (source.Setting.EndsWith("CertificatePath", StringComparison.Ordinal) ? "" : ":Path") : ":KeyPath")} '{missing}' does not exist.");
                continue;
            }

            if (!CheckCertificateFiles) continue;
            try
            {
                Tls.CertificateFiles.Load(source, now);
            }
            catch (Tls.CertificateFiles.LoadException ex)
            {
                errors.Add(ex.Message);
            }
        }
    }
}
