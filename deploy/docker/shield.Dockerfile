# syntax=docker/dockerfile:1
# EdgeCache shield: build with the .NET 10 SDK, run on the ASP.NET Core runtime as a non-root user.
# Build from the repository root: docker build -f deploy/docker/shield.Dockerfile -t edgecache/shield .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY libs/ libs/
COPY origin-shield/EdgeCache.Shield/ origin-shield/EdgeCache.Shield/
RUN dotnet publish origin-shield/EdgeCache.Shield/EdgeCache.Shield.csproj -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app ./
# Traffic on 8080, admin (health, metrics, status page) on 9080; the disk tier under /data.
ENV EdgeCache__Listen__Traffic__0=http://0.0.0.0:8080 \
    EdgeCache__Listen__Admin=http://0.0.0.0:9080 \
    DOTNET_gcServer=1
RUN mkdir -p /data && chown app:app /data
VOLUME /data
USER app
EXPOSE 8080 9080
ENTRYPOINT ["dotnet", "EdgeCache.Shield.dll"]
