# escape=`
FROM mcr.microsoft.com/windows/servercore:ltsc2022 `
    AS base
RUN dir c:\
COPY --from=mcr.microsoft.com/powershell:lts `
    C:\x C:\y
